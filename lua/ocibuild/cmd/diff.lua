--- `ocibuild diff IMAGE1 IMAGE2`: why two images of the store differ.
local check = require "ocibuild.util.check"
local getopt = require "ocibuild.cli.getopt"
local imagediff = require "ocibuild.imagediff"
local media = require "ocibuild.oci.media"
local output = require "ocibuild.cli.output"
local ref = require "ocibuild.oci.ref"
local store = require "ocibuild.store"

local M = {}

M.HELP = [[
usage: ocibuild diff IMAGE1 IMAGE2 [--store DIR]

Explains why two images' digests differ: manifest and config fields
(labels, env, created, history, ...), the layer count, and per layer the
entries added (+), removed (-) or changed (~: type, mode, owner, mtime,
size, content, link target). An image is a tag or a manifest digest of
the store (name@sha256:... or sha256:...). Exits 0 when the images are the
same, 1 when they differ: how to find out why a build is not reproducible.
What the images hold is printed on one line each: control bytes, DEL and
bytes that are not UTF-8 as \xNN, a backslash in a name as \\.
]]

-- The manifest descriptor IMAGE names in the store st.
local function resolve(st, s)
  local desc, err, code
  if s:match("^sha256:%x+$") then
    local idx
    idx, err, code = st:read_index()
    if not idx then return nil, err, code end
    for _, d in ipairs(idx.manifests) do
      if d.digest == s then desc = d end
    end
    if not desc then
      if not st:has_blob(s) then return nil, ("no image %s in store %s"):format(s, st.dir), "ENOENT" end
      desc = { mediaType = media.MANIFEST, digest = s }
    end
  else
    local r
    r, err = ref.parse(s)
    if not r then return nil, err, "BADREF" end
    if r.digest then
      desc = { mediaType = media.MANIFEST, digest = r.digest }
      if not st:has_blob(r.digest) then return nil, ("no image %s in store %s"):format(s, st.dir), "ENOENT" end
    else
      desc, err, code = st:resolve(r)
      if not desc then return nil, err, code end
    end
  end
  if media.kind(desc.mediaType) ~= "manifest" then
    return nil, ("%s is an image index: name one platform's manifest by its digest"):format(s), "BADDOC"
  end
  return desc
end

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
  if not opts then return nil, rest, 2 end
  if #rest ~= 2 then return getopt.usage_error("diff needs two images", "diff") end
  local dir, source = store.default_dir(g.store)
  if not dir then return nil, source, 1 end
  local st, err, code = store.open(dir, { source = source })
  if not st then return nil, err, code end
  local da, db
  da, err, code = resolve(st, rest[1])
  if not da then return nil, err, code end
  db, err, code = resolve(st, rest[2])
  if not db then return nil, err, code end
  local r
  r, err, code = imagediff.compare(st, da, db)
  if not r then return nil, err, code end
  local out = io.stdout
  local na, nb = check.name(rest[1]), check.name(rest[2])
  if r.same then
    put(out, ("%s and %s are the same image (%s)"):format(na, nb, da.digest))
    return true
  end
  put(out, ("--- %s %s"):format(na, da.digest))
  put(out, ("+++ %s %s"):format(nb, db.digest))
  for _, it in ipairs(r.items) do
    put(out, ("%s: %s: %s -> %s"):format(it.section, check.name(it.field), it.a or "(none)", it.b or "(none)"))
  end
  for _, l in ipairs(r.layers) do layer_report(out, l, rest) end
  put(out, ("%d difference%s"):format(r.count, r.count == 1 and "" or "s"))
  return nil, nil, 1
end

return M
