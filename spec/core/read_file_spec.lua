-- core.read_file: a regular file read whole into a string, within a
-- limit (the reader store:read and store:note_read share): what it
-- returns, where it stops with prefix, and what it refuses.
local core = require "ocibuild.core"
local T = require "support"

describe("ocibuild.core read_file", function()
  it("reads a file whole, and refuses one larger than max by its size", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/f", "hello\n")
    assert.equal("hello\n", core.read_file(d .. "/f"))
    assert.equal("hello\n", core.read_file(d .. "/f", { max = 6 }))
    assert.same({ nil, ("TOOBIG: %s/f has 6 bytes, more than the 5 allowed"):format(d), "TOOBIG" },
      { core.read_file(d .. "/f", { max = 5 }) })
    T.write(d .. "/empty", "")
    assert.equal("", core.read_file(d .. "/empty", { max = 0 }))
  end)

  it("with prefix, gives the first max bytes and whether more follow", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/f", ("x"):rep(9000) .. "end")
    assert.same({ ("x"):rep(4), true }, { core.read_file(d .. "/f", { max = 4, prefix = true }) })
    assert.same({ ("x"):rep(9000) .. "end", false }, { core.read_file(d .. "/f", { max = 9003, prefix = true }) })
    assert.same({ ("x"):rep(9000) .. "en", true }, { core.read_file(d .. "/f", { max = 9002, prefix = true }) })
  end)

  it("refuses a folder (EISDIR), a fifo (BADTYPE) and, with nofollow, a symlink (ELOOP)", function()
    local d = T.tmpdir(finally)
    T.must(("mkdir %s/dir && mkfifo %s/fifo && echo x > %s/f && ln -s f %s/link"):format(T.q(d), T.q(d), T.q(d),
      T.q(d)))
    assert.same({ nil, ("EISDIR: Is a directory: %s/dir"):format(d), "EISDIR" }, { core.read_file(d .. "/dir") })
    assert.same({ nil, ("BADTYPE: not a regular file: %s/fifo"):format(d), "BADTYPE" },
      { core.read_file(d .. "/fifo") })
    assert.equal("x\n", core.read_file(d .. "/link"))
    assert.same({ nil, ("ELOOP: a symbolic link, which is not followed here (or a loop of them): %s/link"):format(d),
      "ELOOP" }, { core.read_file(d .. "/link", { nofollow = true }) })
  end)

  it("is the reader of store notes: a note larger than max is TOOBIG, naming the note", function()
    local d = T.tmpdir(finally)
    local st = assert(core.store(d .. "/s", { create = true }))
    local dg = assert(st:blob_writer()):write("blob"):close()
    assert.is_true(st:note_write("entries", dg, "three"))
    assert.equal("three", st:note_read("entries", dg, 5))
    assert.same({ nil, ("TOOBIG: note entries of %s has 5 bytes, more than the 4 allowed"):format(dg), "TOOBIG" },
      { st:note_read("entries", dg, 4) })
  end)
end)
