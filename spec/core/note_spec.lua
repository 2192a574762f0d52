-- Notes: what a build learnt from a blob (a base layer's entries), kept
-- in the store by kind and digest, written whole, removed with their blob;
-- and the base's entries read once, then taken from the note.
local core = require "ocibuild.core"
local T = require "support"

describe("ocibuild.core store notes", function()
  it("writes, reads and replaces a note; a missing one is ENOENT", function()
    local d = T.tmpdir(finally)
    local st = assert(core.store(d .. "/s", { create = true }))
    local dg = assert(st:blob_writer()):write("blob"):close()
    local r, err, code = st:note_read("entries", dg)
    assert.same({ nil, "ENOENT" }, { r, code })
    assert.truthy(err:find(d .. "/s/.ocibuild/notes/entries/" .. dg:sub(8), 1, true))
    assert.is_true(st:note_write("entries", dg, "one\0two"))
    assert.equal("one\0two", st:note_read("entries", dg))
    assert.is_true(st:note_write("entries", dg, "three"))
    assert.equal("three", st:note_read("entries", dg))
    assert.equal("", T.must("ls -A " .. T.q(d .. "/s/.ocibuild-tmp")))
  end)

  it("refuses kinds that are not a lower-case word and digests that are not digests", function()
    local d = T.tmpdir(finally)
    local st = assert(core.store(d .. "/s", { create = true }))
    local dg = ("sha256:" .. ("a"):rep(64))
    assert.same({ nil, "EINVAL: not a note kind: ../x", "EINVAL" }, { st:note_write("../x", dg, "") })
    assert.same({ nil, "BADDIGEST: not a sha256 digest", "BADDIGEST" }, { st:note_read("entries", "sha256:../x") })
  end)

  it("prunes the notes whose blob is gone", function()
    local d = T.tmpdir(finally)
    local st = assert(core.store(d .. "/s", { create = true }))
    local keep = assert(st:blob_writer()):write("keep"):close()
    local gone = assert(st:blob_writer()):write("gone"):close()
    assert(st:note_write("entries", keep, "k"))
    assert(st:note_write("entries", gone, "g"))
    assert(st:remove_blob(gone))
    assert.equal(1, st:prune_notes())
    assert.equal("k", st:note_read("entries", keep))
    assert.equal(0, st:prune_notes())
  end)
end)

describe("ocibuild base layer entries", function()
  it("are read from the blob once, then from the note; a note of another blob or diff_id is not used", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/root/etc/passwd", "root\n")
    T.write(d .. "/ctx/f", "f")
    local function build(...)
      return T.ocibuild("--store", d .. "/s", "build", ...)
    end
    assert.equal(0, (build(d .. "/root", "-t", "base:1")))
    local img = T.image(d .. "/s", "base:1")
    local layer, diff_id = img.manifest.layers[1].digest, img.config.rootfs.diff_ids[1]
    local st = assert(core.store(d .. "/s"))
    assert.is_nil(st:note_read("entries", layer))
    assert.equal(0, (build(d .. "/ctx", "--from", "base:1", "--dest", "/etc/app")))
    local note = assert(st:note_read("entries", layer))
    assert.equal(("ocibuild-entries 2 %s %s 2\ndetc\0\0fetc/passwd\0\0"):format(layer, diff_id), note)
    -- The note is what the next build knows: one saying etc/passwd is a
    -- folder lets /etc/passwd/x through; one naming another blob, or
    -- another diff_id than the image's config says, is not used.
    assert(st:note_write("entries", layer, ("ocibuild-entries 2 %s %s 1\ndetc/passwd\0\0"):format(layer, diff_id)))
    assert.equal(0, (build(d .. "/ctx", "--from", "base:1", "--dest", "/etc/passwd/x")))
    for _, other in ipairs { { img.desc.digest, diff_id }, { layer, img.desc.digest } } do
      assert(st:note_write("entries", layer, ("ocibuild-entries 2 %s %s 1\ndetc/passwd\0\0"):format(other[1],
        other[2])))
      local code, out, err = build(d .. "/ctx", "--from", "base:1", "--dest", "/etc/passwd/y")
      assert.same({ 1, "", "ocibuild: dest /etc/passwd/y/: /etc/passwd is a file in the base image\n" }, { code, out,
        err })
    end
    assert.equal(note, st:note_read("entries", layer))
  end)
end)
