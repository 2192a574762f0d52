-- Planning layers on what the image holds: the merged view of the base's
-- layers (whiteouts, opaque folders, later layers winning, symlinks
-- followed inside the root), the build's own layers on top (a directory
-- mounted at its destination), and the entries each layer gets besides
-- its files: missing destination folders, opaque markers, files,
-- whiteouts, in tar order.
local T = require "support"
local core = require "ocibuild.core"
local plan = require "ocibuild.build.plan"
local view = require "ocibuild.build.view"

local function base(layers)
  local v = view.new()
  for _, l in ipairs(layers) do
    local list = {}
    for _, e in ipairs(l) do list[#list + 1] = { p = e[1], t = e[2], target = e[3] } end
    v:add_base_layer(list)
  end
  return v
end

local function kind(v, p, follow)
  local info = v:lookup(view.split(p), follow)
  if info == nil or info == "?" then return info end
  return info.t
end

local function names(items)
  local t = {}
  for i, it in ipairs(items) do t[i] = it.name end
  return t
end

local function context_step(dir, dest, opts)
  opts = opts or {}
  local prefix = dest:gsub("^/+", "")
  if prefix ~= "" and prefix:sub(-1) ~= "/" then prefix = prefix .. "/" end
  return { kind = "context", where = opts.where or "build.lua:1", l = { prefix = prefix, dest = "/" .. prefix,
    context = dir, owner = opts.owner or "0:0", replace = opts.replace, matcher = opts.matcher } }
end

local function generated(files, removes)
  local s = { kind = "generated", where = "build.lua:9", files = {}, removes = {} }
  for _, f in ipairs(files or {}) do
    s.files[#s.files + 1] = { path = f, comps = view.split(f), content = "x", mode = 420, uid = 0, gid = 0,
      where = "build.lua:9" }
  end
  local files_mod = require "ocibuild.build.files"
  for _, r in ipairs(assert(files_mod.remove(removes or { "/nothing-here" }))) do
    r.where = "build.lua:9"
    s.removes[#s.removes + 1] = r
  end
  if not removes then s.removes = {} end
  return s
end

describe("ocibuild.build.view", function()
  it("merges base layers: later entries win, whiteouts and opaque markers hide what is below", function()
    local v = base {
      { { "etc", "d" }, { "etc/a", "f" }, { "etc/b", "f" }, { "opt/x/y", "f" }, { "var/lib/z", "f" } },
      { { "etc/.wh.a", "f" }, { "opt/x/.wh..wh..opq", "f" }, { "opt/x/new", "f" }, { "var/lib", "f" } },
    }
    assert.is_nil(kind(v, "etc/a"))
    assert.equal("f", kind(v, "etc/b"))
    assert.is_nil(kind(v, "opt/x/y"))
    assert.equal("f", kind(v, "opt/x/new"))
    assert.equal("d", kind(v, "opt"))
    assert.equal("f", kind(v, "var/lib"))
    local info, resolved = v:lookup(view.split("var/lib/z"))
    assert.same({ "f", { "var", "lib" } }, { info.t, resolved }) -- the file in the way
  end)

  it("follows symlinks inside the root: relative, absolute, chained; a loop is unknown", function()
    local v = base { {
      { "run", "d" }, { "run/app", "d" }, { "var/run", "l", "../run" }, { "abs", "l", "/run/app" },
      { "chain", "l", "abs" }, { "loop1", "l", "loop2" }, { "loop2", "l", "loop1" }, { "up", "l", "../../../run" },
    } }
    assert.equal("l", kind(v, "var/run"))
    assert.equal("d", kind(v, "var/run", true))
    assert.equal("d", kind(v, "var/run/app"))
    assert.equal("d", kind(v, "chain", true))
    assert.equal("d", kind(v, "up/app"))
    assert.equal("?", kind(v, "loop1", true))
    local _, resolved = v:lookup(view.split("var/run/app/new"), true)
    assert.same({ "run", "app", "new" }, resolved)
  end)

  it("asks a mounted directory with lstat, leaving out what it excludes", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/conf/a.conf", "a")
    T.write(d .. "/ctx/secret", "s")
    T.must("ln -s /elsewhere " .. T.q(d .. "/ctx/link"))
    local v = base { { { "srv", "d" }, { "srv/old", "f" } } }
    v:mount({ "srv" }, 1, d .. "/ctx", assert(core.matcher { "secret" }), false)
    assert.equal("d", kind(v, "srv/conf"))
    assert.equal("f", kind(v, "srv/conf/a.conf"))
    assert.equal("f", kind(v, "srv/old"))
    assert.is_nil(kind(v, "srv/secret"))
    assert.equal("?", kind(v, "srv/link/x"))
    v:mount({ "srv" }, 2, d .. "/empty", nil, true)
    assert.is_nil(kind(v, "srv/old"))
    assert.is_nil(kind(v, "srv/conf"))
  end)
end)

describe("ocibuild.build.plan", function()
  local v

  before_each(function()
    v = base { {
      { "tmp", "d" }, { "run", "d" }, { "var", "d" }, { "var/run", "l", "../run" }, { "etc", "d" },
      { "etc/passwd", "f" }, { "etc/motd", "f" }, { "usr/share/doc/a/README", "f" }, { "usr/share/doc/b", "f" },
      { "usr/lib/x.so", "f" }, { "usr/lib/y.so", "f" }, { "usr/lib/keep.txt", "f" },
    } }
  end)

  it("writes only the destination folders the image lacks, owned like the layer", function()
    local d = T.tmpdir(finally)
    local p = assert(plan.plan({ context_step(d, "/tmp/cache/a", { owner = "5:6" }),
      context_step(d, "/var/run/app"), context_step(d, "/tmp/cache/a/b") }, v, { sde = 7 }))
    assert.same({ "tmp/cache/", "tmp/cache/a/" }, names(p[1].items))
    assert.same({ kind = "dir", name = "tmp/cache/", mode = 493, mtime = 7, uid = 5, gid = 6 }, p[1].items[1])
    assert.same({ "var/run/app/" }, names(p[2].items))
    assert.same({ "tmp/cache/a/b/" }, names(p[3].items))
    assert.equal("ocibuild layer /tmp/cache/a/", p[1].created_by)
  end)

  it("writes every folder of the destination on an empty image, as before bases existed", function()
    local p = assert(plan.plan({ context_step("/x", "/srv/app") }, view.new(), {}))
    assert.same({ "srv/", "srv/app/" }, names(p[1].items))
  end)

  it("adds an opaque marker for replace, when the destination exists", function()
    local p = assert(plan.plan({ context_step("/x", "/etc", { replace = true }),
      context_step("/x", "/new", { replace = true }) }, v, {}))
    assert.same({ "etc/.wh..wh..opq" }, names(p[1].items))
    assert.same({ "new/" }, names(p[2].items))
  end)

  it("fails on a file in the way, naming where it comes from", function()
    local p, err, code, where = plan.plan({ context_step("/x", "/etc/passwd/d", { where = "b.lua:3" }) }, v, {})
    assert.is_nil(p)
    assert.same({ "dest /etc/passwd/d/: /etc/passwd is a file in the base image", "ENOTDIR", "b.lua:3" },
      { err, code, where })
  end)

  it("orders files, folders and whiteouts: whiteouts first in their folder, parents first", function()
    local s = generated({ "/etc/app/z.conf", "/etc/app/a.conf", "/etc/b" }, { "/etc/motd", "/usr/share/doc/**" })
    local p = assert(plan.plan({ s }, v, { sde = 0 }))
    assert.same({ "etc/.wh.motd", "etc/app/", "etc/app/a.conf", "etc/app/z.conf", "etc/b",
      "usr/share/doc/.wh..wh..opq" }, names(p[1].items))
    assert.equal("ocibuild file /etc/app/z.conf /etc/app/a.conf /etc/b; remove /etc/motd /usr/share/doc/**",
      p[1].created_by)
  end)

  it("removes what a pattern matches, the topmost path of each match", function()
    local s = generated({}, { "/usr/lib/*.so", "/usr/share/d*", "/usr/*/*/a" })
    local p = assert(plan.plan({ s }, v, {}))
    assert.same({ "usr/lib/.wh.x.so", "usr/lib/.wh.y.so", "usr/share/.wh.doc" }, names(p[1].items))
    s = generated({}, { "/usr/*/doc/a" })
    p = assert(plan.plan({ s }, base { { { "usr/share/doc/a/README", "f" } } }, {}))
    assert.same({ "usr/share/doc/.wh.a" }, names(p[1].items))
  end)

  it("empties a folder for DIR/* and DIR/**: one opaque marker", function()
    local s = generated({}, { "/usr/share/*", "/usr/lib/**" })
    local p = assert(plan.plan({ s }, v, {}))
    assert.same({ "usr/lib/.wh..wh..opq", "usr/share/.wh..wh..opq" }, names(p[1].items))
  end)

  it("warns about a removal that matches nothing, and writes no whiteout for it", function()
    local warned = {}
    local s = generated({}, { "/etc/nope", "/etc/*.nope", "/nothing/**" })
    local p = assert(plan.plan({ s }, v, { warn = function(m) warned[#warned + 1] = m end }))
    assert.same({}, p[1].items)
    assert.same({ 'build.lua:9: remove "/etc/nope": the image has nothing there',
      'build.lua:9: remove "/etc/*.nope": matches nothing in the image',
      'build.lua:9: remove "/nothing/**": the image has nothing there' }, warned)
  end)

  it("drops the whiteout of a path a file of the same layer replaces (a folder too, once removed)", function()
    local s = generated({ "/etc/passwd", "/usr/share/doc/a" }, { "/etc/passwd", "/usr/share/doc/a" })
    local p = assert(plan.plan({ s }, v, {}))
    assert.same({ "etc/passwd", "usr/share/doc/a" }, names(p[1].items))
  end)

  it("sees the layers before: a file of an earlier layer blocks, a removed one does not", function()
    local p, err = plan.plan({ generated({ "/opt/tool" }), generated({ "/opt/tool/x" }) }, v, {})
    assert.is_nil(p)
    assert.equal("file /opt/tool/x: /opt/tool is a file in the layer made at build.lua:9", err)
    v = base { { { "etc/passwd", "f" } } }
    p = assert(plan.plan({ generated({}, { "/etc/passwd" }), generated({ "/etc/passwd/x" }) }, v, {}))
    assert.same({ "etc/passwd/", "etc/passwd/x" }, names(p[2].items))
  end)
end)
