-- Every command, given a bad input, exits non-zero with one line on
-- stderr that starts "ocibuild: " and holds no traceback (issue 8 #1: `ls`,
-- `gc` and `images` used to print their error and exit 0).
local T = require "support"

local function one_line(err)
  assert.matches("^ocibuild: [^\n]+\n$", err)
  assert.is_nil(err:find("traceback", 1, true), err)
end

-- A temp folder with a context, a store holding one image, a store whose
-- index.json is garbage, and a context whose .dockerignore is a lone "!".
local function fixture(finally)
  local d = T.fixture(finally, { files = { ["ctx/a.txt"] = "a\n", ["bang/a.txt"] = "a\n",
    ["bang/.dockerignore"] = "!\n" } })
  T.must(("cp -r %s %s"):format(T.q(d .. "/s"), T.q(d .. "/garbage")))
  T.write(d .. "/garbage/index.json", "{garbage")
  T.must("mkdir " .. T.q(d .. "/dir"))
  return d
end

describe("ocibuild exit status", function()
  it("is 1 with one line for each command given a bad input", function()
    local d = fixture(finally)
    local cases = {
      { { "ls", "/nonexistent" }, "/nonexistent" },
      { { "ls", d .. "/ctx/a.txt" }, "not a directory" },
      { { "ls", d .. "/bang" }, "illegal exclusion pattern" },
      { { "ls", d .. "/ctx", "--ignorefile", d .. "/none" }, "ENOENT: No such file or directory: " .. d .. "/none" },
      { { "--store", "/etc/passwd", "gc" }, "/etc/passwd" },
      { { "--store", "/etc/passwd", "images" }, "/etc/passwd" },
      { { "--store", d .. "/nostore", "inspect", "a:1" }, "no store at" },
      { { "--store", d .. "/nostore", "rm", "a:1" }, "no store at" },
      { { "--store", d .. "/garbage", "images" }, "invalid JSON" },
      { { "--store", d .. "/garbage", "gc" }, "nothing removed" },
      { { "--store", d .. "/garbage", "build", d .. "/ctx", "-t", "b:1" }, "invalid JSON" },
      { { "--store", d .. "/s", "build", d .. "/bang", "-t", "b:1" }, "illegal exclusion pattern" },
      { { "--store", d .. "/s", "build", "/nonexistent", "-t", "b:1" }, "does not exist" },
    }
    for _, c in ipairs(cases) do
      local code, out, err = T.ocibuild(table.unpack(c[1]))
      local what = table.concat(c[1], " ")
      assert.equal(1, code, what .. ": " .. out .. err)
      assert.equal("", out, what)
      one_line(err)
      assert.is_truthy(err:find(c[2], 1, true), what .. ": " .. err)
    end
  end)

  it("is 1 for `run` on a folder, a missing script and a failing one, with no traceback", function()
    local d = fixture(finally)
    T.write(d .. "/fails.lua", 'error("stop here")\n')
    for _, c in ipairs {
      { d .. "/dir", d .. "/dir: cannot read the build script: Is a directory" },
      { d .. "/missing.lua", d .. "/missing.lua: cannot read the build script: No such file or directory" },
      { d .. "/fails.lua", d .. "/fails.lua:1: stop here" },
    } do
      local code, out, err = T.ocibuild("--store", d .. "/s", "run", c[1])
      assert.equal(1, code, out .. err)
      assert.equal("", out)
      assert.matches("^[^\n]+\n$", err)
      assert.is_nil(err:find("traceback", 1, true), err)
      assert.is_truthy(err:find(c[2], 1, true), err)
    end
  end)

  it("is 2 for usage mistakes of every command", function()
    local d = fixture(finally)
    for _, argv in ipairs {
      { "ls" }, { "ls", "a", "b" }, { "images", "a", "b" }, { "gc", "x" }, { "build" }, { "run" },
      { "images", "--bogus" }, { "gc", "--bogus" }, { "ls", d, "--bogus" },
      -- values that cannot be right, whatever the store or the files hold
      { "tag", "a:1", "Bad Tag" }, { "rm", "Bad Tag" }, { "inspect", "Bad Tag" }, { "diff", "bad ref", "a:1" },
      { "export", "bad ref", "-o", d .. "/x.tar" }, { "images", "Bad Repo" },
      { "import", d .. "/x.tar", "-t", "Bad Tag" },
      { "push", "a:1", "BAD REF" }, { "push", "Bad Tag", "127.0.0.1:9/x:1" }, { "pull", "BAD REF" },
      { "pull", "127.0.0.1:9/x:1", "--platform", "bogus" }, { "login", "127.0.0.1:9", "--creds", "nocolon" },
    } do
      local code, out, err = T.ocibuild("--store", d .. "/s", table.unpack(argv))
      assert.equal(2, code, table.concat(argv, " ") .. ": " .. out .. err)
      one_line(err)
      assert.truthy(err:find("(see 'ocibuild " .. argv[1] .. " --help')\n", 1, true), err)
    end
    local before = T.fingerprint(d .. "/s")
    for _, flags in ipairs {
      { "--compression", "lz4" }, { "--level", "99" }, { "--mtime", "bogus" }, { "--mode", "bogus" },
      { "--owner", "bogus" }, { "-t", "Bad Tag" }, { "--platform", "bogus" }, { "--platform", "windows/amd64" },
      { "--expose", "99999" }, { "--workdir", "rel" }, { "--volume", "rel" }, { "--annotation", "bogus=1" },
      { "--user", "" }, { "--dest", "rel" }, { "--push" }, { "--exclude", "!" }, { "--label", "=v" },
    } do
      local code, out, err = T.ocibuild("--store", d .. "/s", "build", d .. "/ctx", "-t", "b:1",
        table.unpack(flags))
      assert.equal(2, code, table.concat(flags, " ") .. ": " .. out .. err)
      one_line(err)
      assert.truthy(err:find("(see 'ocibuild build --help')\n", 1, true), err)
    end
    assert.equal(before, T.fingerprint(d .. "/s"))
  end)

  -- Every command of the CLI, with a usage mistake, a failure, and the
  -- failure again under --progress json, where it is an error event with
  -- its code instead of a line. cwd: where the command runs.
  local function every_command(d)
    local function with(...) return { "--store", d .. "/s", ... } end
    return {
      run = { usage = with("run"), fails = with("run", d .. "/missing.lua") },
      build = { usage = with("build"), fails = with("build", "/nonexistent", "-t", "b:1") },
      ls = { usage = with("ls"), fails = with("ls", "/nonexistent") },
      images = { usage = with("images", "a", "b"), fails = { "--store", "/etc/passwd", "images" } },
      tag = { usage = with("tag", "a:1"), fails = with("tag", "nope:1", "x:1") },
      rm = { usage = with("rm"), fails = with("rm", "nope:1") },
      inspect = { usage = with("inspect"), fails = with("inspect", "nope:1") },
      export = { usage = with("export", "a:1"), fails = with("export", "nope:1", "-o", d .. "/x.tar") },
      copy = { usage = with("copy", "a:1"), fails = with("copy", "nope:1", "oci:" .. d .. "/layout") },
      import = { usage = with("import"), fails = with("import", d .. "/missing.tar") },
      prune = { usage = with("prune", "x"), fails = { "--store", "/etc/passwd", "prune" } },
      gc = { usage = with("gc", "x"), fails = { "--store", "/etc/passwd", "gc" } },
      fsck = { usage = with("fsck", "x"), fails = { "--store", d .. "/garbage", "fsck" } },
      push = { usage = with("push"), fails = with("push", "a:1", "127.0.0.1:1/team/a:1") },
      pull = { usage = with("pull"), fails = with("pull", "127.0.0.1:1/team/a:1") },
      login = { usage = with("login"), fails = with("login", "127.0.0.1:1", "--creds", "u:p") },
      logout = { usage = with("logout"), fails = with("logout", "127.0.0.1:1", "--authfile", d .. "/garbage.json") },
      diff = { usage = with("diff", "a:1"), fails = with("diff", "a:1", "nope:1") },
      init = { usage = with("init", "x"), fails = with("init"), cwd = d .. "/proj" },
      keygen = { usage = with("keygen", "x"), fails = with("keygen", "--output-key-prefix", d .. "/none/k") },
      sign = { usage = with("sign", "a:1"), fails = with("sign", "--key", d .. "/missing.key", "a:1") },
      verify = { usage = with("verify", "a:1"), fails = with("verify", "--key", d .. "/missing.pub", "a:1") },
      sbom = { usage = with("sbom"), fails = with("sbom", "nope:1") },
      provenance = { usage = with("provenance", "a:1", "b:1"), fails = with("provenance", "nope:1") },
    }
  end

  local function run_in(cwd, argv)
    local q = {}
    for i, w in ipairs(argv) do q[i] = T.q(w) end
    return T.sh(("cd %s && OCIBUILD_KEY_PASSWORD= %s %s </dev/null"):format(T.q(cwd), T.q(T.bin), table.concat(q, " ")))
  end

  it("covers every command: a usage mistake exits 2, a failure 1 (diff: 2), and --progress json makes it an error "
    .. "event with its code", function()
    local d = fixture(finally)
    T.write(d .. "/garbage.json", "{garbage")
    T.write(d .. "/proj/build.lua", "-- there already\n")
    local cases = every_command(d)
    local cli = require "ocibuild.cli"
    for _, c in ipairs(cli.COMMANDS) do
      local name, case = c[1], cases[c[1]]
      assert.is_table(case, "no case for " .. name)
      local cwd = case.cwd or d
      local code, out, err = run_in(cwd, case.usage)
      assert.equal(2, code, name .. " usage: " .. out .. err)
      assert.equal("", out, name)
      one_line(err)
      assert.truthy(err:find("(see 'ocibuild " .. name .. " --help')", 1, true), name .. ": " .. err)
      -- a failure is 1, but where 1 is a command's answer (diff: they differ)
      local failure = require("ocibuild.cmd." .. name).TROUBLE or 1
      code, out, err = run_in(cwd, case.fails)
      assert.equal(failure, code, name .. " failure: " .. out .. err)
      one_line(err)
      local json = { "--progress", "json" }
      for _, w in ipairs(case.fails) do json[#json + 1] = w end
      code, out, err = run_in(cwd, json)
      assert.equal(failure, code, name .. " json: " .. out .. err)
      local last
      for l in err:gmatch("[^\n]+") do last = T.json(l) end
      assert.is_table(last, name .. ": " .. err)
      assert.equal("error", last.type, name .. ": " .. err)
      assert.matches("^[A-Z][A-Z0-9]+$", last.code, name)
      assert.is_true(require("ocibuild.util.codes").known(last.code), name .. ": " .. last.code)
      assert.is_string(last.message)
      -- a usage mistake under json is an event too, coded USAGE
      json = { "--progress", "json" }
      for _, w in ipairs(case.usage) do json[#json + 1] = w end
      code, out, err = run_in(cwd, json)
      assert.same({ 2, "" }, { code, out }, name)
      assert.equal("USAGE", T.json(err:match("[^\n]+\n?$")).code, name .. ": " .. err)
    end
  end)
end)
