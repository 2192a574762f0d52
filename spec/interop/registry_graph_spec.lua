-- Image graphs against docker-registry (distribution 2.8) on loopback:
-- a push of shared sub-indexes sends each document once, a push of
-- indexes nested too deep sends nothing, and the repair `fsck` prints for
-- a pulled image (`ocibuild pull REF`) does repair a damaged blob.
local R = require "support.registry"
local T = require "support"
local fx = require "cli.storefx"
local gx = require "cli.graphfx"

local function count(list, method, pattern)
  local n = 0
  for _, r in ipairs(list) do
    if r.method == method and r.path:match(pattern) then n = n + 1 end
  end
  return n
end

describe("ocibuild and a registry, over hostile graphs and damaged stores", function()
  local reg, why, base

  R.serve({}, function(r, w, b) reg, why, base = r, w, b end)

  it("pushes 1000 x 3 shared sub-indexes putting each document once (issue 18, item 8)", function()
    if not reg then return pending(why) end
    local d = base .. "/wide"
    local layout, root = gx.shared(d)
    local s = d .. "/s"
    local code, out, err = gx.run(s, "import", layout)
    assert.equal(0, code, out .. err)
    local dest = reg.host .. "/team/wide:1"
    local before = #reg.requests()
    code, out, err = gx.run(s, "push", "wide:1", dest)
    assert.equal(0, code, out .. err)
    local last = reg.host .. "/team/wide@" .. root.digest .. "\n"
    assert.equal(last, out:sub(-#last))
    local reqs = table.move(reg.requests(), before + 1, #reg.requests(), 1, {})
    assert.equal(4, count(reqs, "PUT", "^/v2/team/wide/manifests/"))
    assert.equal(1, count(reqs, "PUT", "^/v2/team/wide/manifests/1$"))
    assert.equal(2, count(reqs, "PUT", "^/v2/team/wide/blobs/uploads/"))
    local got = T.must(("skopeo inspect --raw --tls-verify=false %s"):format(T.q("docker://" .. dest)))
    assert.equal(T.read(layout .. "/blobs/sha256/" .. root.digest:sub(8)), got)
  end)

  it("pushes and exports nothing of indexes nested 18 deep, saying which bound", function()
    if not reg then return pending(why) end
    local d = base .. "/deep"
    local layout = gx.chain(d, 18)
    local before = #reg.requests()
    -- the layout folder is a store holding the chain as deep:1
    local code, out, err = gx.run(layout, "push", "deep:1", reg.host .. "/team/deep:1")
    assert.same({ 1, "" }, { code, out })
    assert.matches("^ocibuild: .*index sha256:%x+: indexes nested more than 8 deep\n$", err)
    local reqs = table.move(reg.requests(), before + 1, #reg.requests(), 1, {})
    assert.equal(0, count(reqs, "PUT", "."))
    assert.equal(0, count(reqs, "POST", "."))
    code, out, err = gx.run(layout, "export", "deep:1", "-o", d .. "/deep.tar")
    assert.same({ 1, "" }, { code, out })
    assert.matches("^ocibuild: .*index sha256:%x+: indexes nested more than 8 deep\n$", err)
    assert.is_false(T.exists(d .. "/deep.tar"))
  end)

  it("fsck names every image a damaged layer breaks, and the pull it prints repairs it (issue 18, item 19)", function()
    if not reg then return pending(why) end
    local d = base .. "/repair"
    local ref = reg.host .. "/team/one:1"
    fx.build(d .. "/src", d .. "/ctx", "one", ref)
    fx.ok(d .. "/src", "push", ref)
    local s = d .. "/s"
    fx.ok(s, "pull", ref)
    fx.ok(s, "tag", ref, "copy:1")
    T.write(d .. "/app/app.txt", "app")
    fx.ok(s, "build", d .. "/app", "--from", ref, "-t", "app:1")
    local img = T.image(s, "copy:1")
    local layer = img.manifest.layers[1].digest
    local p = img.blob(layer)
    T.must(("printf 'XX' | dd of=%s bs=1 seek=20 conv=notrunc status=none"):format(T.q(p)))
    local at = {}
    for i, e in ipairs(fx.entries(s)) do at[e.annotations["org.opencontainers.image.ref.name"]] = i end
    local code, out, err = fx.run(s, "fsck")
    assert.equal(1, code)
    assert.equal(("ocibuild: 1 problem in %s\n"):format(s), err)
    assert.equal(table.concat({
      ("layer %s: BADDIGEST: expected %s, got sha256:%s: %s"):format(layer, layer, T.sha256_file(p), p),
      ("  breaks %s, copy:1 (index.json manifests[%d], manifests[%d]); repair: ocibuild pull %s")
        :format(ref, at[ref], at["copy:1"], ref),
      ("  breaks app:1 (index.json manifests[%d]); repair: ocibuild rm app:1"):format(at["app:1"]),
    }, "\n") .. "\n", out:match("^(.-)checked"))
    local repair = out:match("repair: (ocibuild pull %S+)")
    code, out, err = T.sh(("%s --store %s %s"):format(T.q(T.bin), T.q(s), repair:sub(10)))
    assert.equal(0, code, out .. err)
    assert.matches("^checked 2 images", fx.ok(s, "fsck"))
    fx.valid(s)
  end)
end)
