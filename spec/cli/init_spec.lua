-- ocibuild init: each template is written for its kind of project, never
-- over an existing build.lua, and builds on a sample project. Templates
-- on a base image (static-site, python-app) use `oci.image { from = }`:
-- their builds run against a base this spec makes, once `from` exists.
local T = require "support"

local function init(dir, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.sh(("cd %s && %s init %s"):format(T.q(dir), T.q(T.bin), table.concat(words, " ")))
end

local function run(dir, store, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.sh(("cd %s && %s --store %s run build.lua %s"):format(T.q(dir), T.q(T.bin), T.q(store),
    table.concat(words, " ")))
end

-- The names in the layers of an image, by layer.
local function layer_names(d, store, tag)
  local img = T.image(store, tag)
  local all = {}
  for i, blob in ipairs(img.layers) do
    all[i] = {}
    for _, e in ipairs(T.tar_entries(T.gunzip(blob, d .. "/layer" .. i .. ".tar"))) do all[i][#all[i] + 1] = e.name end
  end
  return all, img
end

-- A base image made here: a layer standing in for a distribution.
local function make_base(d, store, tag, files)
  for name, text in pairs(files) do T.write(d .. "/base-ctx/" .. name, text) end
  local code, _, err = T.ocibuild("--store", store, "build", d .. "/base-ctx", "-t", tag)
  assert.equal(0, code, err)
end

describe("ocibuild init", function()
  it("picks the template from the project, writes build.lua and .dockerignore, and says what to do next", function()
    local d = T.tmpdir(finally)
    for _, case in ipairs {
      { "go.mod", "module x\n", "go-binary" },
      { "requirements.txt", "", "python-app" },
      { "pyproject.toml", "", "python-app" },
      { "public/index.html", "<p>", "static-site" },
      { "index.html", "<p>", "static-site" },
      { "notes.txt", "", "scratch" },
    } do
      local p = d .. "/" .. case[3] .. "-" .. case[1]:gsub("[/.]", "_")
      T.write(p .. "/" .. case[1], case[2])
      local code, out, err = init(p)
      assert.equal(0, code, err)
      assert.matches("^wrote build.lua %(template " .. case[3]:gsub("%-", "%%-") .. ": ", out)
      assert.truthy(T.read(p .. "/build.lua"):find('require "ocibuild"', 1, true))
    end
  end)

  it("names images after the folder, and fills in the site's folder", function()
    local d = T.tmpdir(finally)
    local p = d .. "/My Site"
    T.write(p .. "/dist/index.html", "<p>")
    local code, out, err = init(p)
    assert.equal(0, code, err)
    local text = T.read(p .. "/build.lua")
    assert.truthy(text:find('context = "dist"', 1, true))
    assert.truthy(text:find('tag = args.tag or "my-site:dev"', 1, true))
    assert.is_false(T.exists(p .. "/.dockerignore")) -- the layer is dist/, not the project folder
    assert.equal("wrote build.lua (template static-site: a static site (HTML, CSS, images) served by nginx)\n"
      .. "next: ocibuild ls --why dist   (what goes into the image)\n"
      .. "      ocibuild run build.lua tag=my-site:dev --allow-registry docker.io\n", out)
  end)

  it("never replaces a build.lua, and keeps an existing .dockerignore", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/build.lua", "-- mine\n")
    local code, out, err = init(d, "--template", "scratch")
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal(("ocibuild: %s/build.lua already exists: refusing to overwrite it\n"):format(d), err)
    assert.equal("-- mine\n", T.read(d .. "/build.lua"))
    os.remove(d .. "/build.lua")
    T.write(d .. "/.dockerignore", "mine\n")
    code, out, err = init(d, "--template", "scratch")
    assert.equal(0, code, err)
    assert.truthy(out:find("kept the existing .dockerignore\n", 1, true))
    assert.equal("mine\n", T.read(d .. "/.dockerignore"))
  end)

  it("refuses a template it does not have (exit 2)", function()
    local d = T.tmpdir(finally)
    local code, _, err = init(d, "--template", "rust")
    assert.equal(2, code)
    assert.equal("ocibuild: unknown template \"rust\": expected one of static-site, go-binary, python-app, scratch"
      .. " (see 'ocibuild init --help')\n", err)
    assert.is_false(T.exists(d .. "/build.lua"))
  end)

  describe("templates build on sample projects", function()
    it("scratch: the folder's files, without the build script and its .dockerignore", function()
      local d = T.tmpdir(finally)
      local p = d .. "/proj"
      T.write(p .. "/bin/tool", "#!/bin/sh\necho tool\n", 493)
      T.write(p .. "/etc/tool.conf", "x=1\n")
      local code, _, err = init(p, "--template", "scratch")
      assert.equal(0, code, err)
      local out
      code, out, err = run(p, d .. "/s", "tag=proj:1", "source=https://example.com/proj")
      assert.equal(0, code, out .. err)
      local names, img = layer_names(d, d .. "/s", "proj:1")
      assert.same({ { "bin", "bin/tool", "etc", "etc/tool.conf" } }, names)
      assert.same({ ["org.opencontainers.image.title"] = "proj",
        ["org.opencontainers.image.source"] = "https://example.com/proj" }, img.config.config.Labels)
    end)

    it("go-binary: a static binary alone on an empty image, which runs", function()
      local d = T.tmpdir(finally)
      local p = d .. "/hello"
      T.write(p .. "/go.mod", "module example.com/hello\n\ngo 1.19\n")
      T.write(p .. "/main.go", 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from the image") }\n')
      local code, _, err = init(p)
      assert.equal(0, code, err)
      -- not compiled yet: one line saying so, no empty image with entrypoint /app
      local out
      code, out, err = run(p, d .. "/s")
      assert.same({ 1, "" }, { code, out })
      assert.matches("^ocibuild: build%.lua:%d+: no ./app next to build%.lua to package: compile it first "
        .. "%(CGO_ENABLED=0 go build %-trimpath %-ldflags=%-buildid= %-o app %.%)\n$", err)
      assert.is_false(T.exists(d .. "/s"))
      T.must(("cd %s && CGO_ENABLED=0 GOCACHE=%s GOPATH=%s GOPROXY=off GOFLAGS=-mod=mod "
        .. "go build -trimpath -ldflags=-buildid= -o app ."):format(T.q(p), T.q(T.build .. "/go-cache"), T.q(d
        .. "/gopath")))
      code, out, err = run(p, d .. "/s")
      assert.equal(0, code, out .. err)
      local names, img = layer_names(d, d .. "/s", "hello:dev")
      assert.same({ { "app" } }, names)
      assert.same({ "/app" }, img.config.config.Entrypoint)
      assert.equal("65532:65532", img.config.config.User)
      T.must(("mkdir %s && tar -xf %s -C %s"):format(T.q(d .. "/root"), T.q(d .. "/layer1.tar"), T.q(d .. "/root")))
      assert.equal("hello from the image\n", T.must(T.q(d .. "/root/app")))
    end)

    it("static-site: the site in nginx's folder, on a base image", function()
      local d = T.tmpdir(finally)
      local p = d .. "/site"
      T.write(p .. "/public/index.html", "<h1>hi</h1>\n")
      T.write(p .. "/public/css/site.css", "h1 {}\n")
      make_base(d, d .. "/s", "spec-base/nginx:1", { ["etc/nginx/nginx.conf"] = "events {}\n" })
      local code, _, err = init(p)
      assert.equal(0, code, err)
      local out
      code, out, err = run(p, d .. "/s", "base=spec-base/nginx:1", "tag=site:1", "--allow-image", "spec-base/nginx:1")
      assert.equal(0, code, out .. err)
      local names = layer_names(d, d .. "/s", "site:1")
      assert.equal(2, #names)
      assert.same({ "etc", "etc/nginx", "etc/nginx/nginx.conf" }, names[1])
      assert.same({ "usr", "usr/share", "usr/share/nginx", "usr/share/nginx/html", "usr/share/nginx/html/css",
        "usr/share/nginx/html/css/site.css", "usr/share/nginx/html/index.html" }, names[2])
    end)

    it("python-app: the program in /app on a Python base image", function()
      local d = T.tmpdir(finally)
      local p = d .. "/pyapp"
      T.write(p .. "/main.py", 'print("hi")\n')
      T.write(p .. "/requirements.txt", "")
      T.write(p .. "/vendor/dep/__init__.py", "")
      T.write(p .. "/__pycache__/main.cpython-312.pyc", "x")
      make_base(d, d .. "/s", "spec-base/python:1", { ["usr/local/bin/python"] = "#!/bin/sh\n" })
      local code, _, err = init(p)
      assert.equal(0, code, err)
      local out
      code, out, err = run(p, d .. "/s", "base=spec-base/python:1", "tag=py:1", "--allow-image", "spec-base/python:1")
      assert.equal(0, code, out .. err)
      local names, img = layer_names(d, d .. "/s", "py:1")
      assert.equal(2, #names)
      assert.same({ "app", "app/main.py", "app/requirements.txt", "app/vendor", "app/vendor/dep",
        "app/vendor/dep/__init__.py" }, names[2])
      assert.same({ "python", "main.py" }, img.config.config.Cmd)
      assert.equal("/app", img.config.config.WorkingDir)
    end)
  end)
end)
