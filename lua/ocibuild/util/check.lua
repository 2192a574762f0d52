--- Checking the tables build scripts pass: unknown keys are errors that
-- name the key and the call, with a suggestion when a known key is close
-- (`layer: unknown option "dset" (did you mean "dest"?)`), because a typo
-- silently ignored builds a wrong image with success.
local M = {}

-- Edit distance between a and b (insertions, deletions, substitutions,
-- and swaps of neighbours), for suggestions.
local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end

--- The known key closest to k, when it is close enough to be a typo.
function M.suggest(k, known)
  local best, bestd
  for _, name in ipairs(known) do
    local dd = distance(k:lower(), name:lower())
    if dd <= math.max(1, #name // 3) and (not bestd or dd < bestd) then best, bestd = name, dd end
  end
  return best
end

--- t when every key of t is in known (a list), else nil and
-- `<what>: unknown option "k" (did you mean "x"?)`.
function M.keys(t, known, what)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  local bad = {}
  for k in pairs(t) do
    if not set[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad == 0 then return t end
  table.sort(bad)
  local s = M.suggest(bad[1], known)
  return nil, ("%s: unknown option %q%s"):format(what, bad[1], s and (" (did you mean %q?)"):format(s) or ""),
    "BADVALUE"
end

--- The args of a verb (ocibuild.ops): t when it is a table (nil counts
-- as an empty one) whose keys are all in known, else nil, msg, "BADVALUE".
function M.args(t, known, what)
  if t == nil then return {} end
  if type(t) ~= "table" then return nil, ("%s needs a table of options"):format(what), "BADVALUE" end
  local ok, err = M.keys(t, known, what)
  if not ok then return nil, err, "BADVALUE" end
  return t
end

--- A list of strings from v: a string alone, or a list of them. Returns
-- it, or nil, msg naming what, "BADVALUE".
function M.list(v, what)
  if type(v) == "string" then return { v } end
  local ok, err = M.strings(v, what)
  if not ok then return nil, err, "BADVALUE" end
  return v
end

--- v when it is a list of strings, else nil, msg naming what.
function M.strings(v, what)
  if type(v) ~= "table" then return nil, ("%s must be a list of strings"):format(what), "BADVALUE" end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n ~= #v then return nil, ("%s must be a list of strings"):format(what), "BADVALUE" end
  for i, x in ipairs(v) do
    if type(x) ~= "string" then return nil, ("%s[%d] must be a string"):format(what, i), "BADVALUE" end
  end
  return v
end

--- true when p is an absolute path a layer or config may hold: a string
-- starting with "/", without a NUL byte (C would cut the name there).
function M.abs_path(p)
  return type(p) == "string" and p:sub(1, 1) == "/" and not p:find("\0", 1, true)
end

--- s as Go's JSON writes a string (what a JSON document may hold): each
-- byte that is not part of a UTF-8 character becomes U+FFFD. Never fails.
function M.utf8(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local ok, n = pcall(utf8.codepoint, s, i)
    if ok and n then
      local c = utf8.char(n)
      out[#out + 1] = c
      i = i + #c
    else
      out[#out + 1] = "\u{FFFD}"
      i = i + 1
    end
  end
  return table.concat(out)
end

--- Quotes a value for a message: one line, control bytes escaped.
function M.show(v)
  -- a table's address would make the message differ from run to run
  if type(v) == "table" or type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then
    return "a " .. type(v)
  end
  if type(v) ~= "string" then return tostring(v) end
  return (("%q"):format(v):gsub("\\\n", "\\n"):gsub("[%c\127]", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

-- s with what a terminal would act on escaped as \xNN: control bytes,
-- DEL, C1 controls (U+0080-U+009F) and bytes that are not UTF-8; with
-- `bs`, a backslash is doubled too.
local function escape(s, bs)
  if not s:find("[^\32-\126]") and not (bs and s:find("\\", 1, true)) then return s end
  local out, i = {}, 1
  while i <= #s do
    local ok, n = pcall(utf8.codepoint, s, i)
    local len = ok and #utf8.char(n) or 0
    if bs and n == 92 then
      out[#out + 1] = "\\\\"
      i = i + 1
    elseif ok and n >= 32 and n ~= 127 and not (n >= 0x80 and n < 0xa0) then
      out[#out + 1] = s:sub(i, i + len - 1)
      i = i + len
    else
      local b = s:byte(i)
      out[#out + 1] = ("\\x%02x"):format(b)
      i = i + 1
    end
  end
  return table.concat(out)
end

--- A message made safe to print as one line: control bytes, DEL, C1
-- controls and bytes that are not UTF-8 become \xNN (what was quoted
-- already stays). Never fails.
function M.line(s)
  return escape(tostring(s), false)
end

--- A name from outside (a file of a context, an entry of a layer, a label
-- key) made safe to print, as the C side quotes names (ocb_quote): as
-- line(), and a backslash doubled, so that the name can be read back.
-- Never fails.
function M.name(s)
  return escape(tostring(s), true)
end

return M
