local check = require "ocibuild.util.check"

describe("ocibuild.util.check", function()
  describe("keys()", function()
    it("names an unknown key and the known one it was probably meant to be", function()
      local known = { "context", "dest", "exclude", "mode" }
      assert.same({ nil, 'layer: unknown option "dset" (did you mean "dest"?)', "BADVALUE" },
        { check.keys({ context = "x", dset = "/" }, known, "layer") })
      assert.same({ nil, 'layer: unknown option "contxet" (did you mean "context"?)', "BADVALUE" },
        { check.keys({ contxet = "x" }, known, "layer") })
      assert.same({ nil, 'layer: unknown option "zzzzzz"', "BADVALUE" }, { check.keys({ zzzzzz = 1 }, known, "layer") })
      local t = { dest = "/" }
      assert.equal(t, check.keys(t, known, "layer"))
    end)
  end)

  describe("strings()", function()
    it("takes a list of strings and names what else it got", function()
      assert.same({ "a" }, check.strings({ "a" }, "exclude"))
      assert.same({ nil, "exclude must be a list of strings", "BADVALUE" }, { check.strings("a", "exclude") })
      assert.same({ nil, "exclude must be a list of strings", "BADVALUE" }, { check.strings({ "a", x = 1 },
        "exclude") })
      assert.same({ nil, "exclude[2] must be a string", "BADVALUE" }, { check.strings({ "a", 2 }, "exclude") })
    end)
  end)

  describe("show() and line()", function()
    it("keep a value with newlines or control bytes on one line", function()
      assert.equal([["a\nb\27"]], check.show("a\nb\27"))
      assert.equal("12", check.show(12))
      assert.equal("a\\x0ab\\x1b[0m \\xff é", check.line("a\nb\27[0m \255 é"))
    end)
  end)

  describe("name()", function()
    it("quotes a name as the C side does: C1 controls escaped, a backslash doubled", function()
      local name = "n\27[31m \n \255 \194\155 \127 \\ é"
      assert.equal("n\\x1b[31m \\x0a \\xff \\xc2\\x9b \\x7f \\\\ é", check.name(name))
      assert.equal("plain-name.txt", check.name("plain-name.txt"))
      assert.equal("a\\xc2\\x9b\\", check.line("a\194\155\\")) -- a message keeps its backslashes
      local _, msg = require("ocibuild.core").stat("/nonexistent-dir/" .. name)
      assert.equal("ENOENT: No such file or directory: /nonexistent-dir/" .. check.name(name), msg)
    end)
  end)
end)
