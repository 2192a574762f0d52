--- Packages found in files: each detector (ocibuild.attest.detect.<name>)
-- says which paths it wants and how many of their first bytes
-- (wants(path, info) -> max or nil), reads those bytes (parse(path,
-- bytes, ctx) -> packages, or nil and why) and makes a package's purl
-- (purl(package, os)). A source (ocibuild.attest.detect.source) is read
-- once; a file several detectors want is read once. Each package found
-- is {type=, namespace=, name=, version=, purl=, license=, path= ("/..."),
-- layer= (the blob's digest, for a layer)}. Functions return nil, msg,
-- code when the source cannot be read; a file that cannot be understood
-- is a warning, not a failure.
local check = require "ocibuild.util.check"

local M = {}

M.DETECTORS = { "os", "dpkg", "apk", "python", "node", "maven", "golang" }

local loaded
local function detectors()
  if not loaded then
    loaded = {}
    for i, n in ipairs(M.DETECTORS) do loaded[i] = require("ocibuild.attest.detect." .. n) end
  end
  return loaded
end

-- The detectors that want the file at path (only those reading files by
-- path with by_path), and the most bytes one of them reads.
local function wanting(path, info, by_path)
  local who, max = {}, 0
  for _, d in ipairs(detectors()) do
    local m = (d.patterns or not by_path) and d.wants(path, info)
    if m then
      who[#who + 1] = d
      max = math.max(max, m)
    end
  end
  return who, max
end

-- The strings of t (a package, the OS found, one level down) as JSON
-- takes them: files say what they like, and an SBOM is JSON.
local function clean(t)
  for k, v in pairs(t) do
    if type(v) == "string" then
      t[k] = check.utf8(v)
    elseif type(v) == "table" and k ~= "detector" then
      for k2, v2 in pairs(v) do
        if type(v2) == "string" then v[k2] = check.utf8(v2) end
      end
    end
  end
  return t
end

-- The packages the detectors who find in the first bytes of path (cut:
-- the file had more), into out.
local function parse_with(who, path, bytes, cut, info, ctx, out, layer)
  for _, d in ipairs(who) do
    local found, why = d.parse(path, bytes, { cut = cut, ctx = ctx, info = info })
    if not found then
      ctx.warnings[#ctx.warnings + 1] = ("/%s: %s"):format(path, why)
    else
      for _, p in ipairs(found) do
        p.detector, p.path, p.layer = d, "/" .. path, layer
        out[#out + 1] = clean(p)
      end
    end
  end
  if ctx.os then clean(ctx.os) end
end

-- The file at path: read once, handed to each detector that wants it.
local function one_file(src, path, info, ctx, out)
  local who, max = wanting(path, info)
  if #who == 0 then return end
  local bytes, cut = src.read(path, max)
  if not bytes then
    ctx.warnings[#ctx.warnings + 1] = ("/%s: %s"):format(path, cut)
    return
  end
  parse_with(who, path, bytes, cut == true, info, ctx, out, src.layer)
end

--- What a layer's catalog captures for the detectors (see
-- core.catalog_spec): their path patterns (.dockerignore globs) and the
-- bytes each keeps, and the window kept from each Go build information
-- magic of an executable.
function M.capture()
  local pats, max = {}, {}
  for _, d in ipairs(detectors()) do
    for _, p in ipairs(d.patterns or {}) do
      pats[#pats + 1], max[#max + 1] = p[1], p[2]
    end
  end
  return pats, max, require("ocibuild.attest.detect.golang").WINDOW
end

--- The packages in the captures of one layer, as a layer job or a blob
-- read hands them over (events {type="capture", path=, data=, size=,
-- mode=, cut=, kind= "prefix" | "goinfo"}): c.add(ev) for each; then
-- c.packages (without purls: see M.finish), c.os, c.warnings.
function M.collector()
  local c = { packages = {}, warnings = {} }
  local ctx, go_done = { warnings = c.warnings }, {}
  function c.add(ev)
    local info = { type = "file", size = ev.size, mode = ev.mode }
    if ev.kind == "goinfo" then
      if go_done[ev.path] then return end
      local golang = require "ocibuild.attest.detect.golang"
      local found = golang.parse_window(ev.data)
      if #found > 0 then
        go_done[ev.path] = true
        for _, p in ipairs(found) do
          p.detector, p.path = golang, "/" .. ev.path
          c.packages[#c.packages + 1] = clean(p)
        end
      end
      return
    end
    parse_with((wanting(ev.path, info, true)), ev.path, ev.data, ev.cut, info, ctx, c.packages)
    c.os = ctx.os
  end
  return c
end

--- The detector named name (packages read back from a note name theirs).
function M.detector(name)
  for _, d in ipairs(detectors()) do
    if d.name == name then return d end
  end
end

--- Scans one source. Returns {packages=, os=, warnings=, removed=
-- (paths a layer deletes: whiteouts, and opaque folders as "dir/"),
-- present= (the set of its paths, "/..."), with purls made when
-- opts.purls is not false.
function M.scan(src, opts)
  local ctx, out, removed, present = { warnings = {} }, {}, {}, {}
  local it = src.each()
  while true do
    local path, info, code = it()
    if not path then
      if info then return nil, ("%s: %s"):format(src.name, info), code end
      break
    end
    if info.whiteout then
      removed[#removed + 1] = path
    elseif info.opaque then
      removed[#removed + 1] = path .. "/"
    else
      present["/" .. path] = true
      if info.type == "file" then one_file(src, path, info, ctx, out) end
    end
  end
  local r = { packages = out, os = ctx.os, warnings = ctx.warnings, removed = removed, present = present }
  if not opts or opts.purls ~= false then M.finish(r.packages, r.os) end
  return r
end

--- Makes the purls of packages for the distribution os, and sorts them
-- (by purl, then where they were found). Returns packages.
function M.finish(packages, os)
  for _, p in ipairs(packages) do p.purl = p.detector.purl(p, os) end
  table.sort(packages, function(a, b)
    if a.purl ~= b.purl then return a.purl < b.purl end
    if a.path ~= b.path then return a.path < b.path end
    return (a.layer or "") < (b.layer or "")
  end)
  return packages
end

-- true when path is removed by a whiteout or an opaque folder of rm.
local function gone(path, rm)
  local p = path:sub(2)
  for _, r in ipairs(rm) do
    if r:sub(-1) == "/" then
      if p:sub(1, #r) == r then return true end
    elseif p == r or p:sub(1, #r + 1) == r .. "/" then
      return true
    end
  end
  return false
end

--- Scans the layers of an image, lowest first, as the image's file
-- system shows them: a file a later layer replaces or deletes takes its
-- packages with it. Returns {packages=, os=, warnings=}.
function M.layers(sources)
  local kept, os, warnings = {}, nil, {}
  for _, src in ipairs(sources) do
    local r, err, code = M.scan(src, { purls = false })
    if not r then return nil, err, code end
    local still = {}
    for _, p in ipairs(kept) do
      if not r.present[p.path] and not gone(p.path, r.removed) then still[#still + 1] = p end
    end
    for _, p in ipairs(r.packages) do still[#still + 1] = p end
    kept, os = still, r.os or os
    for _, w in ipairs(r.warnings) do warnings[#warnings + 1] = (src.layer or src.name) .. ": " .. w end
  end
  return { packages = M.finish(kept, os), os = os, warnings = warnings }
end

return M
