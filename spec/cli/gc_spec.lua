local T = require "support"

local function blobs(store)
  local t = {}
  for name in T.must("ls " .. T.q(store .. "/blobs/sha256")):gmatch("%x+") do t[#t + 1] = name end
  return t
end

describe("ocibuild gc", function()
  it("removes what no tag reaches, keeps what one does, and prunes stale reuse records", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    T.write(d .. "/ctx/f", "one")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    local first = T.image(s, "g:1")
    T.write(d .. "/ctx/f", "two")
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    local second = T.image(s, "g:1")
    assert.equal(6, #blobs(s))
    local records_before = T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f | wc -l")
    assert.equal("2", records_before:match("%d+"))
    T.write(s .. "/.ocibuild-tmp/blob-abandoned", "x")

    local code, out, err = T.ocibuild("--store", s, "gc")
    assert.equal(0, code, err)
    assert.matches("^removed 3 blobs %(%d+ bytes%) and 1 temp files\n$", out)
    local left = {}
    for _, b in ipairs(blobs(s)) do left["sha256:" .. b] = true end
    assert.is_true(left[second.desc.digest])
    assert.is_true(left[second.manifest.config.digest])
    assert.is_true(left[second.manifest.layers[1].digest])
    assert.is_nil(left[first.desc.digest])
    assert.is_nil(left[first.manifest.layers[1].digest])
    assert.equal("1", T.must("find " .. T.q(s .. "/.ocibuild/reuse") .. " -type f | wc -l"):match("%d+"))
    T.must("oci-image-tool validate --type image " .. T.q(s))

    -- The tag still builds and reuses what is left.
    assert.equal(0, (T.ocibuild("--store", s, "build", d .. "/ctx", "-t", "g:1")))
    assert.equal(second.desc.digest, T.image(s, "g:1").desc.digest)
  end)
end)
