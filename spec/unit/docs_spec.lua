-- The documentation is complete: every public function of the Lua API
-- has an LDoc comment (read back through LDoc itself) saying how it fails;
-- the README documents every event type and field; the man page and the
-- bash completion carry every command and option of the CLI's help texts.
local T = require "support"
local cli = require "ocibuild.cli"
local events = require "ocibuild.events"
local manual = require "ocibuild.cli.manual"

-- LDoc's model of the API reference (config.ld), as Lua data.
local function ldoc_items()
  local out = T.must(("cd %s && ldoc --filter pl.pretty.dump . 2>/dev/null"):format(T.q(T.root)))
  local modules = assert(load("return " .. out, "=ldoc", "t", {}))()
  local byname = {}
  for _, m in ipairs(modules) do
    byname[m.name] = {}
    for _, item in ipairs(m.items) do byname[m.name][item.name] = item end
  end
  return byname
end

-- The functions that raise on failure (the others cannot fail).
local RAISES = { image = true, build = true, ignorefile = true, run = true, run_unsafe = true }

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

describe("documentation", function()
  describe("the Lua API reference (LDoc)", function()
    local docs = ldoc_items()

    it("documents every public function and field of the ocibuild module, each saying how it fails", function()
      local oci = require "ocibuild"
      local public = {}
      for k in pairs(oci) do public[#public + 1] = k end
      for k in pairs(debug.getmetatable(oci.image()).__index) do
        if k:sub(1, 2) ~= "__" then public[#public + 1] = "Image:" .. k end
      end
      local index_methods = debug.getmetatable(oci.index { oci.image() }).__index
      for k in pairs(index_methods) do
        if k:sub(1, 2) ~= "__" then public[#public + 1] = "Index:" .. k end
      end
      table.sort(public)
      local items = docs.ocibuild
      for _, name in ipairs(public) do
        local item = items[name]
        assert.is_table(item, "not documented: " .. name)
        assert.truthy(item.summary and #item.summary > 10, "no summary: " .. name)
        if RAISES[name] or name:match("^Image:") or name:match("^Index:") then
          assert.is_string(item.raise, "does not say how it fails (@raise): " .. name)
        end
      end
      -- and documents nothing that is not there
      for _, name in ipairs(sorted_keys(items)) do
        local ok = rawget(oci, name) ~= nil or (name:match("^Image:")
          and debug.getmetatable(oci.image()).__index[name:sub(7)])
          or (name:match("^Index:") and index_methods[name:sub(7)])
        assert.truthy(ok, "documented but absent: " .. name)
      end
    end)

    it("documents every function and table of ocibuild.events", function()
      for _, name in ipairs(sorted_keys(events)) do
        local item = docs["ocibuild.events"][name]
        assert.is_table(item, "not documented: ocibuild.events." .. name)
        assert.truthy(#item.summary > 10, name)
      end
    end)

    it("builds without a warning", function()
      local d = T.tmpdir(finally)
      local code, out, err = T.sh(("cd %s && ldoc --testing --fatalwarnings -d %s ."):format(T.q(T.root), T.q(d)))
      assert.equal(0, code, out .. err)
      assert.truthy(T.read(d .. "/modules/ocibuild.html"):find("Image:save", 1, true))
    end)
  end)

  describe("the README's examples", function()
    local readme = T.read(T.root .. "/README.md")

    it("list each command once in the command line summary", function()
      local block = readme:match("\n## The command line\n\n```(\n.-)\n```")
      assert.is_string(block)
      for _, c in ipairs(cli.COMMANDS) do
        local n = select(2, block:gsub("\nocibuild " .. c[1]:gsub("%p", "%%%0") .. "[ \n]", ""))
        if c[1] ~= "gc" then assert.is_true(n <= 1, ("%s listed %d times"):format(c[1], n)) end
      end
    end)

    it("never concatenate an args value that may be missing (ocibuild run without name=value)", function()
      for block in readme:gmatch("```lua\n(.-)```") do
        for line in block:gmatch("[^\n]+") do
          assert.is_nil(line:match("args%.[%w_]+%s*%.%.") or line:match("%.%.%s*args%.[%w_]+"), line)
        end
      end
    end)

    it("build a base without a network, and an image on it (the offline-base block, as written)", function()
      if not T.exists("/bin/busybox") then
        return pending("busybox-static is not installed (scripts/setup installs it)")
      end
      local block = readme:match("<!%-%- spec: offline%-base[^\n]*\n```sh\n(.-)```")
      assert.is_string(block, "README has no offline-base block")
      local d = T.tmpdir(finally)
      T.must(("mkdir -p %s && ln -s %s %s"):format(T.q(d .. "/bin"), T.q(T.bin), T.q(d .. "/bin/ocibuild")))
      T.write(d .. "/site/index.html", "<h1>offline</h1>\n")
      T.write(d .. "/run.sh", "set -eu\n" .. block)
      local code, out, err = T.sh(("cd %s && env PATH=%s:$PATH OCIBUILD_STORE=%s sh run.sh"):format(T.q(d),
        T.q(d .. "/bin"), T.q(d .. "/store")))
      assert.equal(0, code, out .. err)
      local base, site = T.image(d .. "/store", "busybox:base"), T.image(d .. "/store", "site:1")
      assert.same(base.manifest.layers[1], site.manifest.layers[1])
      assert.same({ "/bin/httpd", "-f", "-h", "/www" }, site.config.config.Cmd)
      local names = {}
      for _, e in ipairs(T.tar_entries(T.gunzip(base.layers[1], d .. "/base.tar"))) do names[e.name] = e end
      assert.equal("busybox", names["bin/httpd"].linkname)
      assert.is_table(names["bin/busybox"])
    end)
  end)

  it("the README documents every event type and field, and the json progress form", function()
    local readme = T.read(T.root .. "/README.md")
    local section = readme:match("\n### Progress events\n(.-)\n##")
    assert.is_string(section, "README has no \"### Progress events\" section")
    for _, ty in ipairs(sorted_keys(events.SCHEMA)) do
      local row = section:match("\n| `" .. ty .. "` |([^\n]*)")
      assert.is_string(row, "README does not document event type " .. ty)
      for _, field in ipairs(sorted_keys(events.SCHEMA[ty])) do
        assert.truthy(row:find("`" .. field .. "`", 1, true), ("README: %s event lacks field %s"):format(ty, field))
      end
    end
    for stage in pairs(events.STAGES) do assert.truthy(section:find("`" .. stage .. "`", 1, true), stage) end
    for action in pairs(events.ACTIONS) do assert.truthy(section:find("`" .. action .. "`", 1, true), action) end
  end)

  it("each command's --help describes every option it parses (those that publish their SPEC)", function()
    local checked = 0
    for _, c in ipairs(cli.COMMANDS) do
      local cmd = require("ocibuild.cmd." .. c[1])
      for name in pairs(cmd.SPEC or {}) do
        if name ~= "alias" then
          -- a line of its own, as "  --name VALUE  what it does" (the usage line is not enough)
          local line = "\n  [%-%w, ]*%-%-" .. name:gsub("%p", "%%%0") .. "[ \n]"
          assert.truthy(cmd.HELP:find(line), c[1] .. " --help does not describe --" .. name)
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked >= 7, checked) -- ls and prune at least
  end)

  describe("the man page and the bash completion", function()
    it("carry every command, and every option of each command's help", function()
      local man, bash = manual.man("0"), manual.bash()
      for _, c in ipairs(manual.commands()) do
        assert.truthy(man:find('.SS "ocibuild ' .. c.name .. '"', 1, true), c.name)
        assert.truthy(bash:find("\n    " .. c.name .. ")\n", 1, true), c.name)
        for _, o in ipairs(c.options) do
          for _, n in ipairs(o.names) do
            assert.truthy(man:find(n:gsub("%-", "\\-"), 1, true), n)
            assert.truthy(bash:find(" " .. n:gsub("%p", "%%%0") .. "[ \"]"), c.name .. " " .. n)
          end
        end
      end
      local names = {}
      for _, c in ipairs(manual.commands()) do names[#names + 1] = c.name end
      local listed = {}
      for _, c in ipairs(cli.COMMANDS) do listed[#listed + 1] = c[1] end
      assert.same(listed, names)
    end)

    it("read the option values from the help texts", function()
      local byname = {}
      for _, c in ipairs(manual.commands()) do byname[c.name] = c end
      local function opt(cmd, name)
        for _, o in ipairs(byname[cmd].options) do
          if o.names[#o.names] == name then return o end
        end
      end
      assert.same({ "auto", "tty", "plain", "json", "quiet" }, opt("build", "--progress").choices)
      assert.same({ "fixed", "keep" }, opt("build", "--mtime").choices)
      assert.same({ "static-site", "go-binary", "python-app", "scratch" }, opt("init", "--template").choices)
      assert.is_nil(opt("build", "--owner").choices)
      assert.same({ "-o", "--output" }, opt("build", "--output").names)
      assert.equal("FILE.tar", opt("build", "--output").arg)
      assert.same({ "DIR" }, byname.build.operands)
      assert.same({ "FILE" }, byname.run.operands)
      assert.same({ "REPO" }, byname.images.operands)
      assert.same({}, byname.fsck.operands)
    end)

    it("is valid roff, as man renders it", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/ocibuild.1", manual.man("0.1.0"))
      local code, out, err = T.sh("groff -ww -z -man " .. T.q(d .. "/ocibuild.1"))
      assert.equal(0, code, out .. err)
      assert.equal("", err)
      out = T.must("MANWIDTH=100 man -l " .. T.q(d .. "/ocibuild.1") .. " 2>/dev/null | col -bx")
      assert.truthy(out:find("ocibuild - build OCI images from directories, without a daemon", 1, true), out)
      assert.truthy(out:find("--progress MODE        auto|tty|plain|json|quiet", 1, true), out)
    end)

    it("completes commands, options and their values in bash", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/c.bash", manual.bash())
      T.must("mkdir -p " .. T.q(d .. "/dir1") .. " && touch " .. T.q(d .. "/file1"))
      local function complete(line)
        local words = {}
        for w in line:gmatch("%S+") do words[#words + 1] = w end
        if line:sub(-1) == " " then words[#words + 1] = "" end
        local quoted = {}
        for i, w in ipairs(words) do quoted[i] = T.q(w) end
        return T.must(("cd %s && bash -c 'source c.bash; COMP_WORDS=(%s); COMP_CWORD=%d; _ocibuild; printf" ..
          " \"%%s\\n\" \"${COMPREPLY[@]}\"'")
          :format(T.q(d), table.concat(quoted, " "):gsub("'", "'\\''"), #words - 1))
      end
      assert.equal("images\ninspect\nimport\ninit\n", complete("ocibuild i"))
      assert.equal("--progress\n", complete("ocibuild build --prog"))
      assert.equal("json\n", complete("ocibuild build --progress j"))
      assert.equal("go-binary\n", complete("ocibuild --store s init --template go"))
      assert.equal("dir1\n", complete("ocibuild build di"))
      assert.equal("file1\n", complete("ocibuild run fi"))
      assert.equal("--unsafe\n", complete("ocibuild run x.lua --un"))
    end)
  end)
end)
