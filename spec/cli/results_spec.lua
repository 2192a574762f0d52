-- What build and run tell people and programs: --progress in each mode
-- (events checked against the schema), -q, --iidfile, --metadata-file,
-- run -o; and the consistency rules: ls lists what build puts in, a
-- folder with a Dockerfile builds the Dockerfile with a one-line notice
-- (--as-layer builds the folder, without one).
local T = require "support"
local events = require "ocibuild.events"
local json = require "ocibuild.oci.json"

local function context(d)
  T.write(d .. "/ctx/index.html", "<p>hi</p>\n")
  T.write(d .. "/ctx/sub/a.txt", "a\n")
  return d .. "/ctx"
end

-- The events of a --progress=json run: each line decoded strictly and
-- checked against the schema.
local function decode_events(err)
  local list = {}
  for line in err:gmatch("[^\n]+") do
    local ev = assert(json.decode(line, "event"))
    assert.is_true(events.check(ev))
    assert.equal("integer", math.type(ev.ms))
    if #list > 0 then assert.is_true(ev.ms >= list[#list].ms) end
    list[#list + 1] = ev
  end
  return list
end

local function find(list, ty, stage)
  local found = {}
  for _, ev in ipairs(list) do
    if ev.type == ty and ev.stage == stage then found[#found + 1] = ev end
  end
  return found
end

describe("ocibuild build and run output", function()
  describe("--progress", function()
    it("json: stage events for the image and each layer, matching what was built", function()
      local d = T.tmpdir(finally)
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", context(d), "-t", "p:1", "--progress=json")
      assert.equal(0, code, err)
      local list = decode_events(err)
      local img = T.image(d .. "/s", "p:1")
      assert.equal("start", list[1].type)
      assert.same({ "image", "p:1" }, { list[1].stage, list[1].id })
      assert.same({ "p:1" }, list[1].tags)
      local ls, le = find(list, "start", "layer")[1], find(list, "end", "layer")[1]
      assert.same({ "layer 1/1", 1, 1, d .. "/ctx", "/" }, { ls.id, ls.index, ls.count, ls.context, ls.dest })
      assert.equal(img.manifest.layers[1].digest, le.digest)
      assert.equal(img.config.rootfs.diff_ids[1], le.diff_id)
      assert.equal(3, le.entries)
      assert.is_true(#find(list, "progress", "layer") >= 1)
      local ie = list[#list]
      assert.same({ "end", "image", img.desc.digest, img.manifest.config.digest, d .. "/s" },
        { ie.type, ie.stage, ie.digest, ie.image_id, ie.store })
      assert.truthy(out:find(img.desc.digest, 1, true))
    end)

    it("json: the archive is a stage of its own, with its blobs", function()
      local d = T.tmpdir(finally)
      context(d)
      T.write(d .. "/b.lua",
        'local img = oci.image {}\nimg:layer { context = "ctx" }\nreturn img:save { tag = "p:2" }\n')
      local code, _, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", "-o", d .. "/p.tar", "--progress",
        "json")
      assert.equal(0, code, err)
      local list = decode_events(err)
      local as, ae = find(list, "start", "archive")[1], find(list, "end", "archive")[1]
      assert.same({ d .. "/p.tar", d .. "/p.tar" }, { as.path, ae.path })
      assert.equal(2, #find(list, "blob", "archive")) -- config and layer
      assert.is_true(T.exists(d .. "/p.tar"))
    end)

    it("json: warnings and failures are events too, and nothing else is printed", function()
      local d = T.tmpdir(finally)
      local ctx = context(d)
      T.must(("python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' %s")
        :format(T.q(ctx .. "/app.sock")))
      local code, _, err = T.ocibuild("--store", d .. "/s", "build", ctx, "-t", "p:1", "--progress=json")
      assert.equal(0, code, err)
      local warnings = find(decode_events(err), "warning")
      assert.same({ { type = "warning", message = "skipping socket " .. ctx .. "/app.sock", ms = warnings[1].ms } },
        warnings)
      local out
      code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/missing", "-t", "p:1", "--progress=json")
      assert.equal(1, code)
      assert.equal("", out)
      local list = decode_events(err)
      assert.equal(1, #list)
      assert.same({ "error", ("context %s/missing does not exist"):format(d) }, { list[1].type, list[1].message })
    end)

    it("plain: one line per finished stage", function()
      local d = T.tmpdir(finally)
      local code, _, err = T.ocibuild("--store", d .. "/s", "build", context(d), "-t", "p:1", "--progress=plain")
      assert.equal(0, code, err)
      local digest = T.image(d .. "/s", "p:1").desc.digest
      assert.matches("^layer 1/1: 3 entries, [%d.]+ [KMG]?i?B %-> %d+ B, %d+%.%ds\nimage p:1: "
        .. digest .. ", [%d.]+ [KMG]?i?B, %d+%.%ds\n$", err)
    end)

    it("tty: live lines that are gone when the build is done", function()
      local d = T.tmpdir(finally)
      -- Long enough (level 9, one thread) to be drawn at least once.
      T.must(("mkdir -p %s && cd %s && python3 -c \"import random; r = random.Random(1); "
        .. "open('big.txt', 'w').write(' '.join(str(r.randrange(10**6)) for _ in range(2 * 10**6)))\"")
        :format(T.q(d .. "/ctx"), T.q(d .. "/ctx")))
      local code, out, err = T.sh(("COLUMNS=200 %s --store %s build %s -t p:1 --progress=tty --level 9 --jobs 1")
        :format(T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx")))
      assert.equal(0, code, err)
      -- the image's line, then the layer's under it
      assert.truthy(err:find("image p:1  [%d.]+s\27%[K\nlayer 1/1  %d+ files  .-  " .. d:gsub("%p", "%%%0")
        .. "/ctx %-> /\27%[K"), err)
      assert.equal("\27[J", err:sub(-3))
      assert.matches("^tag:", out)
    end)

    it("auto and quiet print nothing but the result when standard error is not a terminal", function()
      local d = T.tmpdir(finally)
      for _, mode in ipairs { "auto", "quiet" } do
        local code, out, err = T.ocibuild("--store", d .. "/s", "build", context(d), "-t", "p:1", "--progress=" .. mode)
        assert.equal(0, code, err)
        assert.equal("", err)
        assert.matches("^tag:", out)
      end
    end)

    it("refuses a mode it does not know (exit 2)", function()
      local d = T.tmpdir(finally)
      local code, _, err = T.ocibuild("--store", d .. "/s", "build", context(d), "-t", "p:1", "--progress=fancy")
      assert.equal(2, code)
      assert.equal("ocibuild: bad --progress \"fancy\": expected auto, tty, plain, json, quiet (see 'ocibuild" ..
        " build --help')\n", err)
      assert.is_false(T.exists(d .. "/s"))
    end)
  end)

  describe("-q, --iidfile, --digestfile, --metadata-file", function()
    it("build -q prints the manifest digest alone; the files hold the image ID, digest and result", function()
      local d = T.tmpdir(finally)
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", context(d), "-t", "m:1", "-t",
        "example.com/t/m:2",
        "-q", "--iidfile", d .. "/iid", "--metadata-file", d .. "/meta.json", "-o", d .. "/m.tar",
        "--digestfile", d .. "/digest")
      assert.equal(0, code, err)
      assert.equal("", err)
      local img = T.image(d .. "/s", "m:1")
      assert.equal(img.desc.digest .. "\n", out)
      assert.equal(img.manifest.config.digest, T.read(d .. "/iid"))
      assert.equal(img.desc.digest, T.read(d .. "/digest"))
      local meta = assert(json.decode(T.read(d .. "/meta.json"), "metadata"))
      assert.same({
        ["containerimage.digest"] = img.desc.digest,
        ["containerimage.config.digest"] = img.manifest.config.digest,
        ["containerimage.descriptor"] = { mediaType = img.desc.mediaType, digest = img.desc.digest,
          size = img.desc.size },
        ["image.name"] = "docker.io/library/m:1,example.com/t/m:2",
        ["ocibuild.tags"] = { "m:1", "example.com/t/m:2" },
        ["ocibuild.size"] = tonumber(T.must(("find %s/s/blobs -type f -printf '%%s\\n' | awk '{s+=$1} END {print s}'")
          :format(T.q(d)))),
        ["ocibuild.store"] = d .. "/s",
        ["ocibuild.archive"] = d .. "/m.tar",
      }, meta)
    end)

    it("run reports the image the script returned, else the last it saved", function()
      local d = T.tmpdir(finally)
      context(d)
      T.write(d .. "/b.lua", [[
local one = oci.build { context = "ctx", tag = "one:1" }
oci.build { context = "ctx", tag = "two:1", labels = { n = "2" } }
if args.first then return one end
]])
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", "-q", "--iidfile", d .. "/iid")
      assert.equal(0, code, err)
      assert.equal(T.image(d .. "/s", "two:1").desc.digest .. "\n", out)
      assert.equal(T.image(d .. "/s", "two:1").manifest.config.digest, T.read(d .. "/iid"))
      code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", "first=1", "-q")
      assert.equal(0, code, err)
      assert.equal(T.image(d .. "/s", "one:1").desc.digest .. "\n", out)
    end)

    it("run reports what ocibuild saved, not what the script says it saved", function()
      local d = T.tmpdir(finally)
      context(d)
      T.write(d .. "/b.lua", [[
local r = oci.build { context = "ctx", tag = "real:1" }
r.digest, r.image_id = "sha256:fake", "sha256:fake"
return r
]])
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", "-q", "--iidfile", d .. "/iid")
      assert.equal(0, code, err)
      assert.equal(T.image(d .. "/s", "real:1").desc.digest .. "\n", out)
      assert.equal(T.image(d .. "/s", "real:1").manifest.config.digest, T.read(d .. "/iid"))
    end)

    it("run -o writes the reported image as an OCI archive, wherever the user says", function()
      local d = T.tmpdir(finally)
      context(d)
      T.write(d .. "/proj/b.lua", 'return oci.build { context = "../ctx", tag = "arch:1" }')
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/proj/b.lua", "--unsafe", "-o", d
        .. "/a.tar")
      assert.equal(0, code, err)
      assert.truthy(out:find("archive:  " .. d .. "/a.tar", 1, true), out)
      local names = {}
      for _, e in ipairs(T.tar_entries(d .. "/a.tar")) do names[e.name] = true end
      local img = T.image(d .. "/s", "arch:1")
      assert.is_true(names["blobs/sha256/" .. img.desc.digest:sub(8)])
      assert.is_true(names["index.json"])
    end)

    it("checks the files before any work: no symlink, nothing inside a store", function()
      local d = T.tmpdir(finally)
      local ctx = context(d)
      T.write(d .. "/target", "keep\n")
      T.must(("ln -s %s %s"):format(T.q(d .. "/target"), T.q(d .. "/link")))
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", ctx, "-t", "x:1", "--iidfile", d .. "/link")
      assert.equal(1, code)
      assert.equal("", out)
      assert.equal(("ocibuild: --iidfile: output %s/link is a symlink: refusing to follow or replace it\n"):format(d),
        err)
      assert.is_false(T.exists(d .. "/s"))
      assert.equal("keep\n", T.read(d .. "/target"))
      T.must("mkdir -p " .. T.q(d .. "/s2") .. " && echo '{\"imageLayoutVersion\":\"1.0.0\"}' > " .. T.q(d
        .. "/s2/oci-layout"))
      code, out, err = T.ocibuild("--store", d .. "/s", "build", ctx, "-t", "x:1", "--metadata-file",
        d .. "/s2/index.json")
      assert.same({ 1, "" }, { code, out })
      assert.equal(("ocibuild: --metadata-file: output %s/s2/index.json is inside the image layout %s/s2:" ..
        " refusing to write there\n")
        :format(d, d), err)
    end)

    it("run fails when asked to report an image the script never saved", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/b.lua", "print('nothing')\n")
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua", "-q")
      assert.equal(1, code)
      assert.equal("nothing\n", out)
      assert.equal(("ocibuild: %s/b.lua: the script saved no image to report\n"):format(d), err)
    end)

    it("run warns when the script saved no image, naming it, and still exits 0 (it may only check things)", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/b.lua", "local oci = require 'ocibuild'\nlocal img = oci.image {}\n")
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", d .. "/b.lua")
      assert.equal(0, code, err)
      assert.equal("", out)
      assert.equal(("ocibuild: warning: %s/b.lua: the script saved no image (it called no save or build)\n")
        :format(d), err)
      assert.is_false(T.exists(d .. "/s"))
      -- a program (--unsafe) may have effects of its own: not warned about
      assert.same({ 0, "", "" }, { T.ocibuild("--store", d .. "/s", "run", "--unsafe", d .. "/b.lua") })
    end)
  end)

  describe("consistency", function()
    it("ls lists exactly what build puts in, leaving out the store and the archive inside the context", function()
      local d = T.tmpdir(finally)
      local ctx = context(d)
      local code, _, err = T.ocibuild("--store", ctx .. "/store", "build", ctx, "-t", "c:1", "-o", ctx .. "/out.tar")
      assert.equal(0, code, err)
      local listed
      code, listed, err = T.ocibuild("--store", ctx .. "/store", "ls", ctx, "-o", ctx .. "/out.tar")
      assert.equal(0, code, err)
      code, _, err = T.ocibuild("--store", ctx .. "/store", "build", ctx, "-t", "c:2", "-o", ctx .. "/out.tar")
      assert.equal(0, code, err)
      local names = {}
      for _, e in ipairs(T.tar_entries(T.gunzip(T.image(ctx .. "/store", "c:2").layers[1], d .. "/l.tar"))) do
        names[#names + 1] = e.type == "5" and e.name .. "/" or e.name
      end
      assert.equal(table.concat(names, "\n") .. "\n", listed)
      assert.equal("index.html\nsub/\nsub/a.txt\n", listed)
      -- the store from the environment, as build finds it
      code, listed = T.sh(("OCIBUILD_STORE=%s %s ls %s"):format(T.q(ctx .. "/store"), T.q(T.bin), T.q(ctx)))
      assert.equal(0, code)
      assert.equal("index.html\nout.tar\nsub/\nsub/a.txt\n", listed)
    end)

    it("a folder with a Dockerfile builds the Dockerfile with a notice; --as-layer builds the folder", function()
      local d = T.tmpdir(finally)
      local ctx = context(d)
      T.write(ctx .. "/Dockerfile", "FROM scratch\nCOPY index.html /\n")
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", ctx, "-t", "df:1")
      assert.equal(0, code, err)
      assert.equal(("ocibuild: building %s/Dockerfile (--as-layer builds %s as one layer)\n"):format(ctx, ctx), err)
      assert.matches("^tag:%s+df:1\n", out)
      local names = {}
      for _, e in ipairs(T.tar_entries(T.image(d .. "/s", "df:1").layers[1])) do names[#names + 1] = e.name end
      assert.same({ "index.html" }, names)
      code, out, err = T.ocibuild("--store", d .. "/s", "build", ctx, "--as-layer", "-t", "df:2")
      assert.equal(0, code, err)
      assert.equal("", err)
      assert.matches("^tag:%s+df:2\n", out)
      names = {}
      for _, e in ipairs(T.tar_entries(T.image(d .. "/s", "df:2").layers[1])) do names[#names + 1] = e.name end
      assert.is_true(#names > 2)
      assert.equal("Dockerfile", names[1])
    end)
  end)
end)
