--- Hostile image graphs for the specs, made here: OCI layout folders
-- (and their tars, by GNU tar) whose index.json lists indexes of shared
-- sub-indexes, chains of nested indexes, or more descriptors than any
-- image holds, all over one small image built by ocibuild.
local T = require "support"
local fx = require "cli.storefx"

local M = {}

-- A guard against hangs, not a measurement: a command that has not ended
-- after this long is killed and the spec fails saying so.
M.GUARD = tonumber(os.getenv("OCIBUILD_SPEC_GUARD") or "") or 600

--- Runs `ocibuild --store s ARGS...` under the hang guard; returns code,
-- out, err (code 124: it hung).
function M.run(s, ...)
  local words = {}
  for _, w in ipairs { "--store", s, ... } do words[#words + 1] = T.q(w) end
  return T.sh(("timeout %d %s %s"):format(M.GUARD, T.q(T.bin), table.concat(words, " ")))
end

--- A layout folder dir holding the image a:1 built from `content` (its
-- manifest, config and layer), and fn(put) adding documents: put(doc)
-- writes a document as a blob and returns its descriptor table (an index
-- when doc has `manifests`). Lists the descriptor fn returns in
-- index.json as `name`. Returns the layout, the root descriptor and the
-- image's manifest descriptor.
function M.layout(dir, content, name, fn)
  local doc = require "ocibuild.oci.doc"
  local media = require "ocibuild.oci.media"
  local ref = require "ocibuild.oci.ref"
  local store = require "ocibuild.store"
  fx.build(dir .. "/src", dir .. "/ctx", content, "a:1")
  local img = T.image(dir .. "/src", "a:1")
  local st = assert(store.open(dir .. "/layout", { create = true }))
  for _, dg in ipairs { img.desc.digest, img.manifest.config.digest, img.manifest.layers[1].digest } do
    T.must(("cp %s %s"):format(T.q(img.blob(dg)), T.q(dir .. "/layout/blobs/sha256/" .. dg:sub(8))))
  end
  local m = doc.descriptor(media.MANIFEST, img.desc.digest, math.tointeger(img.desc.size))
  local function put(t)
    local dg, size = assert(st:put_blob(doc.encode(t)))
    return doc.descriptor(t.manifests and media.INDEX or media.MANIFEST, dg, size)
  end
  local root = fn(put, m)
  assert(st:tag(root, { assert(ref.parse(name)) }))
  return dir .. "/layout", root, m
end

--- An index document listing `child` n times.
function M.wide(child, n)
  local json = require "ocibuild.oci.json"
  local list = json.array {}
  for i = 1, n do list[i] = child end
  return require("ocibuild.oci.doc").index(list)
end

--- The tar of the layout folder dir at path (its OCI files only).
function M.tar(dir, path)
  T.must(("tar -cf %s -C %s oci-layout index.json blobs"):format(T.q(path), T.q(dir)))
  return path
end

--- index.json's three levels of 1000 entries, each level listing the
-- next 1000 times, over the image: 10^9 paths to one manifest.
function M.shared(dir)
  return M.layout(dir, "shared", "wide:1", function(put, m)
    local i3 = put(M.wide(m, 1000))
    local i2 = put(M.wide(i3, 1000))
    return put(M.wide(i2, 1000))
  end)
end

--- A chain of `depth` indexes, each listing the one below twice.
function M.chain(dir, depth)
  return M.layout(dir, "chain", "deep:1", function(put, m)
    local child = m
    for _ = 1, depth do child = put(require("ocibuild.oci.doc").index({ child, child })) end
    return child
  end)
end

--- An index of three indexes, each listing the image's layer blob 35,000
-- times (as an artifact would): more descriptors than the walk reads.
function M.many(dir)
  return M.layout(dir, "many", "many:1", function(put, m)
    local doc = require "ocibuild.oci.doc"
    local img = T.image(dir .. "/src", "a:1")
    local l = img.manifest.layers[1]
    local blob = doc.descriptor("x", l.digest, math.tointeger(l.size))
    local kids = {}
    for i = 1, 3 do
      local idx = M.wide(blob, 35000)
      idx.annotations = { n = tostring(i) }
      kids[i] = put(idx)
    end
    kids[4] = m
    return put(doc.index(kids))
  end)
end

return M
