--- Owners and modes as copies give them: "user[:group]" with names
-- looked up in an image's /etc/passwd and /etc/group (the way BuildKit
-- reads them: the first line with the name; "root" is 0 without a
-- lookup; a user given by id gets the same group id), and chmod modes,
-- octal ("0755") or symbolic ("u+x,go-w", "a=rX"), applied per entry as
-- BSD's setmode does (X: execute for folders and for files that have an
-- execute bit already). Functions return nil, msg on a bad value.
local M = {}

-- ---- owners ----

--- Parses /etc/passwd (kind "passwd") or /etc/group ("group") text into
-- {name = {id=, gid=}}, the first line of a name winning.
function M.parse_db(text, kind)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    line = line:match("^%s*(.*%S)") -- linear: "(.-)%s*$" is quadratic on runs of spaces
    if line then
      local f = {}
      for field in (line .. ":"):gmatch("([^:]*):") do f[#f + 1] = field end
      local name = f[1]
      if name and out[name] == nil then
        if kind == "passwd" then
          out[name] = { id = math.tointeger(tonumber(f[3] or "")) or 0,
            gid = math.tointeger(tonumber(f[4] or "")) or 0 }
        else
          out[name] = { id = math.tointeger(tonumber(f[3] or "")) or 0 }
        end
      end
    end
  end
  return out
end

-- The last text parsed per kind, and what it gave: every COPY --chown of
-- a build asks for the same files.
local last = {}
local function parsed(text, kind)
  local l = last[kind]
  if not (l and l.text == text) then
    l = { text = text, db = M.parse_db(text, kind) }
    last[kind] = l
  end
  return l.db
end

-- An id as BuildKit's parseUID reads it: "root", or a 32-bit decimal.
local function id_of(s)
  if s == "root" then return 0 end
  if s:match("^%-?%d+$") then
    local n = math.tointeger(tonumber(s))
    if n and n >= 0 and n <= 4294967294 then return n end
  end
  return nil
end

--- Resolves "user[:group]" to uid, gid. read(kind) returns the text of
-- the image's /etc/passwd or /etc/group (nil when it has none, and why
-- when it has one it cannot read); strict:
-- a name that is not there is an error (else, as BuildKit does, id 0,
-- and a warning through warn). An empty user is id 0 and an empty group
-- the user's (":50" is 0:50, "50:" is 50:50), as in BuildKit. Returns
-- uid, gid, or nil, msg.
function M.owner(spec, read, strict, warn)
  local u, g = spec:match("^([^:]*):(.*)$")
  u = u or spec
  -- as BuildKit reads them: no user is id 0, no group the user's
  if g == "" then g = nil end
  local dbs, unread = {}, {}
  local function db(kind)
    if dbs[kind] == nil then
      local text, why = read(kind)
      dbs[kind], unread[kind] = text and parsed(text, kind) or false, why
    end
    return dbs[kind]
  end
  local function missing(what, name, file)
    local why = db(file) and ("no %s %q in the image's /etc/%s"):format(what, name, file)
      or unread[file] and ("cannot read the image's /etc/%s to find %s %q in: %s"):format(file, what, name,
        unread[file])
      or ("the image has no /etc/%s to find %s %q in"):format(file, what, name)
    if strict then return nil, why, "BADVALUE" end
    if warn then warn(why .. "; using id 0") end
    return 0
  end
  local uid = u == "" and 0 or id_of(u)
  local gid
  if uid then
    gid = uid
  else
    local e = db("passwd") and db("passwd")[u]
    if e then
      uid, gid = e.id, e.gid
    else
      local err
      uid, err = missing("user", u, "passwd")
      if not uid then return nil, err, "BADVALUE" end
      gid = 0
    end
  end
  if g then
    local n = id_of(g)
    if n then
      gid = n
    else
      local e = db("group") and db("group")[g]
      if e then
        gid = e.id
      elseif strict then
        return missing("group", g, "group")
      elseif warn then
        missing("group", g, "group")
      end
    end
  end
  return uid, gid
end

-- ---- modes ----

local SUID, SGID, STICKY = 2048, 1024, 512
local RWXU, RWXG, RWXO = 448, 56, 7
local STANDARD = SUID | SGID | RWXU | RWXG | RWXO
local R, W, X = 292, 146, 73 -- r, w, x for u, g and o

--- Parses a chmod value: octal (0 to 7777) or symbolic. Returns a mode
-- object for M.apply, or nil, msg (BuildKit's words for octal mistakes).
function M.chmod(s)
  local bad = ("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777"):format(s)
  if s:match("^%d") then
    local v = s:match("^[0-7]+$") and tonumber(s, 8)
    if not v or v > 4095 then return nil, bad, "BADVALUE" end
    return { octal = v }
  end
  local cmds, i, n = {}, 1, #s
  local function add(op, who, arg)
    if op == "=" then
      cmds[#cmds + 1] = { cmd = "-", bits = who ~= 0 and who or STANDARD }
      op = "+"
    end
    if op == "+" or op == "-" or op == "X" then
      cmds[#cmds + 1] = { cmd = op, bits = who ~= 0 and (who & arg) or arg }
    else
      local c = { cmd = op, bits = 65535, u = who == 0 or who & 256 ~= 0,
        g = who == 0 or who & 32 ~= 0, o = who == 0 or who & 4 ~= 0 }
      c.set = arg == "+" or arg == "="
      c.clear = arg == "-" or arg == "="
      cmds[#cmds + 1] = c
    end
  end
  local syntax = ("invalid chmod parameter: '%s': bad symbolic mode"):format(s)
  if n == 0 then return nil, syntax, "BADVALUE" end
  while true do
    local who = 0
    while true do
      local c = s:sub(i, i)
      if c == "" then return nil, syntax, "BADVALUE" end
      if c == "a" then who = who | STANDARD
      elseif c == "u" then who = who | SUID | RWXU
      elseif c == "g" then who = who | SGID | RWXG
      elseif c == "o" then who = who | RWXO
      else break end
      i = i + 1
    end
    repeat
      local op = s:sub(i, i)
      i = i + 1
      if op ~= "+" and op ~= "-" and op ~= "=" then return nil, syntax, "BADVALUE" end
      local equal_done = false
      who = who & ~STICKY
      local perm, permx = 0, 0
      while true do
        local b = s:sub(i, i)
        if b == "r" then perm = perm | R
        elseif b == "w" then perm = perm | W
        elseif b == "x" then perm = perm | X
        elseif b == "X" then
          if op ~= "-" then permx = X else perm = perm | X end
        elseif b == "s" then
          if who == 0 or who & ~RWXO ~= 0 then perm = perm | SUID | SGID end
        elseif b == "t" then
          if who == 0 or who & ~RWXO ~= 0 then who, perm = who | STICKY, perm | STICKY end
        elseif b == "u" or b == "g" or b == "o" then
          if perm ~= 0 then add(op, who, perm); perm = 0 end
          if op == "=" then equal_done = true end
          if permx ~= 0 then add("X", who, permx); permx = 0 end
          add(b, who, op)
        else
          if perm ~= 0 or (op == "=" and not equal_done) then add(op, who, perm) end
          if permx ~= 0 then add("X", who, permx) end
          break
        end
        i = i + 1
      end
      local nx = s:sub(i, i)
    until nx == "" or nx == ","
    if i > n then break end
    i = i + 1
  end
  return { cmds = cmds }
end

--- The permission bits (0-4095) m gets from the mode object c, for an
-- entry that is a folder when dir.
function M.apply(c, m, dir)
  if c.octal then return c.octal end
  local new = m
  for _, x in ipairs(c.cmds) do
    if x.cmd == "+" then
      new = new | x.bits
    elseif x.cmd == "-" then
      new = new & ~x.bits
    elseif x.cmd == "X" then
      if m & X ~= 0 or dir then new = new | x.bits end
    else
      local value = x.cmd == "u" and (new & RWXU) >> 6 or x.cmd == "g" and (new & RWXG) >> 3 or new & RWXO
      if x.clear then
        local clr = x.set and RWXO or value
        if x.u then new = new & ~((clr << 6) & x.bits) end
        if x.g then new = new & ~((clr << 3) & x.bits) end
        if x.o then new = new & ~(clr & x.bits) end
      end
      if x.set then
        if x.u then new = new | ((value << 6) & x.bits) end
        if x.g then new = new | ((value << 3) & x.bits) end
        if x.o then new = new | (value & x.bits) end
      end
    end
  end
  return new & 4095
end

return M
