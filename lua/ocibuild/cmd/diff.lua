--- `ocibuild diff IMAGE1 IMAGE2`: why two images of the store differ.
local check = require "ocibuild.util.check"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local output = require "ocibuild.cli.output"

local M = {}

M.HELP = [[
usage: ocibuild diff IMAGE1 IMAGE2 [--store DIR]

Explains why two images' digests differ: manifest and config fields
(labels, env, created, history, ...), the layer count, and per layer the
entries added (+), removed (-) or changed (~: type, mode, owner, mtime,
size, content, link target). An image is a tag or a manifest digest of
the store (name@sha256:... or sha256:...). Exits 0 when the images are the
same, 1 when they differ, 2 when they could not be compared (as diff(1)
does): how to find out why a build is not reproducible.
What the images hold is printed on one line each: control bytes, DEL and
bytes that are not UTF-8 as \xNN, a backslash in a name as \\.
]]

-- Everything printed from the images (entry names, link targets, config
-- keys and values, media types) may be hostile: names are quoted as errors
-- quote them (check.name), and every line goes out through check.line.
local function put(out, s)
  out:write(check.line(s), "\n")
end

local function show_attr(f, v)
  if v == nil then return "(none)" end
  if f == "mode" then return ("%04o"):format(v) end
  if f == "mtime" then return os.date("!%Y-%m-%dT%H:%M:%SZ", v) end
  if f == "target" then return check.show(v) end
  return tostring(v)
end

local function summary(a)
  local s = ("%s %04o %d:%d"):format(a.type, a.mode, a.uid, a.gid)
  if a.type == "file" then s = s .. " " .. output.human(a.size) end
  if a.target then s = s .. " -> " .. check.show(a.target) end
  return s
end

local function layer_report(out, l, names)
  if not l.a or not l.b then
    local d = l.a or l.b
    put(out, ("layer %d: only in %s (%s, %s)"):format(l.index, check.name(l.a and names[1] or names[2]), d.digest,
      output.human(d.size)))
    return
  end
  put(out, ("layer %d: %s -> %s"):format(l.index, l.a.digest, l.b.digest))
  if l.diff_a == l.diff_b then
    put(out, ("  same files (diff_id %s), compressed differently: %s %d B -> %s %d B"):format(l.diff_a,
      l.a.mediaType, l.a.size, l.b.mediaType, l.b.size))
    return
  end
  for _, e in ipairs(l.entries) do
    if e.kind == "~" then
      local parts = {}
      for i, f in ipairs(e.fields) do
        parts[i] = ("%s %s -> %s"):format(f.field, show_attr(f.field, f.a), show_attr(f.field, f.b))
      end
      put(out, ("  ~ %s  %s"):format(check.name(e.name), table.concat(parts, ", ")))
    else
      put(out, ("  %s %s  %s"):format(e.kind, check.name(e.name), summary(e.attrs)))
    end
  end
  if l.reordered then
    put(out, "  same entries, in another order")
  elseif #l.added + #l.removed + #l.changed == 0 then
    put(out, "  same entries; the tar headers differ in what is not compared (names of owners, pax records)")
  end
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "diff")
  if not opts then return nil, rest, "USAGE" end
  if #rest ~= 2 then return getopt.usage_error("diff needs two images", "diff") end
  local r, err, code = ops.diff(g.ctx, { a = rest[1], b = rest[2] })
  if not r then return nil, err, code end
  local out = io.stdout
  local na, nb = check.name(rest[1]), check.name(rest[2])
  if r.same then
    put(out, ("%s and %s are the same image (%s)"):format(na, nb, r.a.digest))
    return true
  end
  put(out, ("--- %s %s"):format(na, r.a.digest))
  put(out, ("+++ %s %s"):format(nb, r.b.digest))
  for _, it in ipairs(r.items) do
    put(out, ("%s: %s: %s -> %s"):format(it.section, check.name(it.field), it.a or "(none)", it.b or "(none)"))
  end
  for _, l in ipairs(r.layers) do layer_report(out, l, rest) end
  put(out, ("%d difference%s"):format(r.count, r.count == 1 and "" or "s"))
  return nil, nil, M.ANSWER
end

--- Exit 1 is the answer "they differ"; any failure exits 2.
M.ANSWER, M.TROUBLE = "DIFFERENT", 2

return M
