-- ocibuild.oci.walk: the one walk of image graphs. Graphs are made here as
-- tables of documents by digest (no store): roles by position, each
-- (digest, role) once, bytes reached as a layer still descended into as a
-- manifest, and both bounds with their one-line messages.
local media = require "ocibuild.oci.media"
local walk = require "ocibuild.oci.walk"

local function digest(n) return ("sha256:%064x"):format(n) end

local function desc(mt, n, size) return { mediaType = mt, digest = digest(n), size = size or 10 } end

-- A walker over docs (digest -> document), logging what it does.
local function walker(docs)
  local log = { reads = {}, blobs = {}, done = {} }
  local w = walk.new {
    read = function(d, role)
      log.reads[#log.reads + 1] = role .. " " .. d.digest
      return docs[d.digest] or nil, "no document " .. d.digest, "ENOENT"
    end,
    blobs = function(list)
      for _, c in ipairs(list) do log.blobs[#log.blobs + 1] = c.role .. " " .. c.desc.digest end
      return true
    end,
    done = function(d, role)
      log.done[#log.done + 1] = role .. " " .. d.digest
      return true
    end,
  }
  return w, log
end

local function manifest(config_n, layers)
  local m = { config = desc(media.CONFIG, config_n), layers = {} }
  for i, n in ipairs(layers) do m.layers[i] = desc(media.LAYER.gzip, n) end
  return m
end

-- An index of n entries, all the child desc.
local function wide(child, n)
  local list = {}
  for i = 1, n do list[i] = child end
  return { manifests = list }
end

describe("ocibuild.oci.walk", function()
  it("reads bytes reached as a layer again as the manifest they also are, children before parents", function()
    local victim = desc(media.MANIFEST, 1)
    local docs = {
      [digest(1)] = manifest(2, { 3 }),
      [digest(4)] = { config = desc(media.CONFIG, 5),
        layers = { desc(media.LAYER.gzip, 6), desc(media.LAYER.gzip, 1) } },
    }
    local w, log = walker(docs)
    assert(w:run(desc(media.MANIFEST, 4), "evil"))
    assert(w:run(victim, "victim"))
    assert.same({ "manifest " .. digest(4), "manifest " .. digest(1) }, log.reads)
    assert.same({ "config " .. digest(5), "layer " .. digest(6), "layer " .. digest(1), "config " .. digest(2),
      "layer " .. digest(3) }, log.blobs)
    assert.same({ "manifest " .. digest(4), "manifest " .. digest(1) }, log.done)
    for _, n in ipairs { 1, 2, 3, 4, 5, 6 } do assert.equal(10, w.reached[digest(n)]) end
  end)

  it("visits shared sub-indexes once: 1000 x 3 wide is four reads", function()
    local docs = { [digest(1)] = manifest(2, { 3 }) }
    docs[digest(10)] = wide(desc(media.MANIFEST, 1), 1000)
    docs[digest(11)] = wide(desc(media.INDEX, 10), 1000)
    docs[digest(12)] = wide(desc(media.INDEX, 11), 1000)
    local w, log = walker(docs)
    assert(w:run(desc(media.INDEX, 12), "wide"))
    assert.equal(4, #log.reads)
    assert.same({ "manifest " .. digest(1), "index " .. digest(10), "index " .. digest(11), "index " .. digest(12) },
      log.done)
  end)

  it("stops indexes nested more than 8 deep, even when the deep one was seen higher up", function()
    local function chain(n)
      local docs = { [digest(1)] = manifest(2, { 3 }) }
      local child = desc(media.MANIFEST, 1)
      for i = 1, n do
        docs[digest(100 + i)] = { manifests = { child, child } }
        child = desc(media.INDEX, 100 + i)
      end
      return docs, child
    end
    local docs, top = chain(8)
    assert(walker(docs):run(top, "eight"))
    docs, top = chain(18)
    local w, log = walker(docs)
    assert.same({ nil, ("deep: index %s: indexes nested more than 8 deep"):format(digest(110)), "BADDOC" },
      { w:run(top, "deep") })
    assert.equal(8, #log.reads)
    -- the chain of 7 below the root of 8 is fine on its own, then too deep
    -- under one more index: the height seen first counts at the second place
    docs = chain(8)
    docs[digest(200)] = { manifests = { desc(media.INDEX, 107), desc(media.INDEX, 201) } }
    docs[digest(201)] = { manifests = { desc(media.INDEX, 108) } }
    w = walker(docs)
    assert.same({ nil, ("again: index %s: indexes nested more than 8 deep"):format(digest(107)), "BADDOC" },
      { w:run(desc(media.INDEX, 200), "again") })
  end)

  it("stops after 100000 descriptors, and when two descriptors of one blob disagree on its size", function()
    local docs = {}
    local blob = { mediaType = "application/octet-stream", digest = digest(9), size = 1 }
    for i = 1, 3 do docs[digest(i)] = wide(blob, 40000) end
    docs[digest(4)] = { manifests = { desc(media.INDEX, 1), desc(media.INDEX, 2), desc(media.INDEX, 3) } }
    local w = walker(docs)
    assert.same({ nil, ("many: more than 100000 descriptors, at blob %s: no image has so many; stopped")
      :format(digest(9)), "BADDOC" }, { w:run(desc(media.INDEX, 4), "many") })
    docs[digest(5)] = { config = desc(media.CONFIG, 6),
      layers = { desc(media.LAYER.gzip, 7, 5), desc(media.LAYER.gzip, 7, 6) } }
    w = walker(docs)
    assert.same({ nil, ("sizes: layer %s: one descriptor says 5 bytes, another 6"):format(digest(7)), "BADSIZE" },
      { w:run(desc(media.MANIFEST, 5), "sizes") })
  end)

  it("gives roles by place: an index's other children and a foreign config are blobs, a read may skip", function()
    local docs = {
      [digest(1)] = { manifests = { desc("application/vnd.in-toto+json", 2), desc(media.MANIFEST, 3),
        desc(media.MANIFEST, 4) } },
      [digest(3)] = { config = desc("application/vnd.oci.empty.v1+json", 5), layers = { desc(media.INDEX, 6) } },
    }
    local w, log = walker(docs)
    w.hooks.read = function(d, role)
      log.reads[#log.reads + 1] = role .. " " .. d.digest
      return docs[d.digest] or false
    end
    assert(w:run(desc(media.INDEX, 1), "roles"))
    assert.same({ "blob " .. digest(5), "layer " .. digest(6), "blob " .. digest(2) }, log.blobs)
    assert.same({ "manifest " .. digest(3), "index " .. digest(1) }, log.done)
    assert.equal("config", walk.role(desc(media.DOCKER_CONFIG, 1), "config"))
    assert.equal("index", walk.role(desc(media.DOCKER_LIST, 1)))
  end)
end)
