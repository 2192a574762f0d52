local cli = require "ocibuild.cli"
local getopt = require "ocibuild.cli.getopt"
local output = require "ocibuild.cli.output"
local T = require "support"

describe("ocibuild.cli.getopt", function()
  local SPEC = { tag = "list", output = "value", why = "flag", alias = { t = "tag", o = "output" } }

  it("splits options from operands, with aliases, lists, inline values and --", function()
    local opts, rest = getopt.parse({ "-t", "a:1", "dir", "--tag=b:2", "--why", "-o", "x.tar", "--", "-t" }, SPEC,
      "build")
    assert.same({ tag = { "a:1", "b:2" }, why = true, output = "x.tar" }, opts)
    assert.same({ "dir", "-t" }, rest)
  end)

  it("returns usage errors with the code USAGE (exit 2)", function()
    assert.same({ nil, "unknown option \"--nope\" (see 'ocibuild build --help')", "USAGE" },
      { getopt.parse({ "--nope" }, SPEC, "build") })
    assert.same({ nil, "option --why takes no value (see 'ocibuild build --help')", "USAGE" },
      { getopt.parse({ "--why=yes" }, SPEC, "build") })
    assert.same({ nil, "option -o needs a value (see 'ocibuild build --help')", "USAGE" },
      { getopt.parse({ "-o" }, SPEC, "build") })
    assert.same({ nil, "unknown option \"--alias\" (see 'ocibuild --help')", "USAGE" },
      { getopt.parse({ "--alias" }, SPEC) })
    assert.equal(2, cli.status("USAGE"))
    assert.same({ nil, '--level needs an integer, got "x"', "USAGE" }, { getopt.integer("x", "level") })
    assert.equal(5, getopt.integer("5", "level"))
  end)
end)

describe("ocibuild.cli", function()
  it("names the nearest command for a mistyped one, as a usage mistake", function()
    local code, out, err = T.ocibuild("biuld", ".")
    assert.same({ 2, "", "ocibuild: unknown command \"biuld\" (did you mean \"build\"?) (see 'ocibuild --help')\n" },
      { code, out, err })
    code, out, err = T.ocibuild("frobnicate")
    assert.same({ 2, "", "ocibuild: unknown command \"frobnicate\" (see 'ocibuild --help')\n" }, { code, out, err })
  end)
end)

describe("ocibuild.cli.output", function()
  it("shows sizes for people", function()
    assert.same({ "512 B", "1.5 KiB", "3.0 MiB" }, { output.human(512), output.human(1536),
      output.human(3 * 1024 * 1024) })
  end)
end)

describe("ocibuild.cli main()", function()
  it("exits 2 for usage mistakes and 1 for failures, never 0 after an error", function()
    for _, case in ipairs {
      { {}, 2, "usage: ocibuild" },
      { { "--bogus" }, 2, "unknown option \"--bogus\"" },
      { { "frobnicate" }, 2, "unknown command \"frobnicate\"" },
      { { "--store" }, 2, "option --store needs a value" },
      { { "ls", "/nonexistent-dir" }, 1, "ocibuild: context /nonexistent-dir: ENOENT" },
      { { "--store", "/etc/passwd", "gc" }, 1, "ocibuild: store /etc/passwd is not usable: ENOTDIR" },
    } do
      local code, _, err = T.ocibuild(table.unpack(case[1]))
      assert.equal(case[2], code, err)
      assert.truthy(err:find(case[3], 1, true), err)
    end
  end)

  it("takes --store before or after the command", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/f", "x")
    assert.equal(0, (T.ocibuild("build", d .. "/ctx", "-t", "a:1", "--store", d .. "/s1")))
    assert.equal(0, (T.ocibuild("--store=" .. d .. "/s2", "build", d .. "/ctx", "-t", "a:1")))
    assert.equal(T.image(d .. "/s1", "a:1").desc.digest, T.image(d .. "/s2", "a:1").desc.digest)
  end)

  it("lists every command in its usage, each with a --help", function()
    local _, out = T.ocibuild("--help")
    for _, c in ipairs(cli.COMMANDS) do
      assert.truthy(out:find("  " .. c[1] .. " ", 1, true), c[1])
      local code, help = T.ocibuild(c[1], "--help")
      assert.equal(0, code)
      assert.matches("^usage: ocibuild " .. c[1], help)
    end
  end)
end)
