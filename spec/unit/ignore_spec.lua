-- The .dockerignore reader (ocibuild.build.ignore): lines as BuildKit's ReadAll
-- reads them, Go's filepath.Clean and strings.TrimSpace, reading files, and
-- compiling with extra patterns and explanations.
local ignore = require "ocibuild.build.ignore"
local T = require "support"

local function patterns(text)
  local list = assert(ignore.parse(text, "f"))
  local out = {}
  for i, e in ipairs(list) do out[i] = e.pattern end
  return out
end

describe("ocibuild.build.ignore", function()
  describe("clean()", function()
    it("gives what Go's filepath.Clean gives", function()
      for _, c in ipairs {
        { "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { ".", "." }, { "..", ".." },
        { "../..", "../.." }, { "../../abc", "../../abc" }, { "/abc", "/abc" }, { "/", "/" },
        { "abc/", "abc" }, { "./", "." }, { "../", ".." }, { "/abc/", "/abc" },
        { "abc//def//ghi", "abc/def/ghi" }, { "//abc", "/abc" }, { "///abc", "/abc" },
        { "abc//", "abc" }, { "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" },
        { "abc/.", "abc" }, { "abc/def/ghi/../jkl", "abc/def/jkl" },
        { "abc/def/../ghi/../jkl", "abc/jkl" }, { "abc/def/..", "abc" }, { "abc/def/../..", "." },
        { "/abc/def/../..", "/" }, { "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
        { "abc/def/../../../ghi/jkl/../../../mno", "../../mno" }, { "/../abc", "/abc" },
        { "abc/./../def", "def" }, { "abc//./../def", "def" }, { "abc/../../././../def", "../../def" },
        { "!../a", "!../a" }, { "!a/../b", "b" },
      } do
        assert.equal(c[2], ignore.clean(c[1]), c[1])
      end
    end)
  end)

  describe("trim_space()", function()
    it("trims Unicode white space and keeps everything else", function()
      assert.equal("a b", ignore.trim_space(" \t\v\f\r\na b\n"))
      assert.equal("a", ignore.trim_space("\194\160\227\128\128a\226\128\169\194\133"))
      assert.equal("a\226\128\139", ignore.trim_space("a\226\128\139")) -- U+200B is not space
      assert.equal("\255", ignore.trim_space(" \255 "))
      assert.equal("", ignore.trim_space("\226\128\128 "))
    end)
  end)

  describe("parse()", function()
    it("reads one pattern a line, with its line number", function()
      local list = assert(ignore.parse("a\n\n# c\nb/c\n", ".dockerignore"))
      assert.same({ { pattern = "a", line = 1, file = ".dockerignore" },
        { pattern = "b/c", line = 4, file = ".dockerignore" } }, list)
    end)

    it("skips comments only where # starts the line", function()
      assert.same({ "# a", "a # b" }, patterns("#x\n # a\na # b"))
    end)

    it("trims white space, also after '!'", function()
      assert.same({ "a", "!b" }, patterns("  a\t\n !  b \n"))
    end)

    it("tolerates a BOM on the first line and CRLF line ends", function()
      assert.same({ "a", "b" }, patterns("\239\187\191a\r\nb\r\n"))
      assert.same({ "a" }, patterns("\239\187\191#x\r\na"))
      -- elsewhere a BOM is part of the pattern
      assert.same({ "a", "\239\187\191b" }, patterns("a\n\239\187\191b"))
    end)

    it("cleans each pattern and makes it relative", function()
      assert.same({ "a", "a/b", "b", "../a", "a", "!a", "/", "!c" },
        patterns("./a\na//b/\na/../b\n../a\n/a\n!/a\n/\n! ./c"))
    end)

    it("fails on an exception with nothing after its '!'", function()
      assert.same(table.pack(nil, "f:2: bad pattern '!': illegal exclusion pattern: \"!\"", "BADPATTERN"),
        table.pack(ignore.parse("a\n ! \n", "f")))
      assert.same(table.pack(nil, "f:1: bad pattern '!/': illegal exclusion pattern: \"!\"", "BADPATTERN"),
        table.pack(ignore.parse("!/", "f")))
    end)

    it("fails on a line of 64 KiB or more, as Docker's reader does", function()
      assert.equal(1, #patterns(("a"):rep(65535) .. "\n"))
      assert.same(table.pack(nil, "f:2: line too long (64 KiB or more)", "BADPATTERN"),
        table.pack(ignore.parse("#\n" .. ("a"):rep(65536), "f")))
    end)
  end)

  describe("read()", function()
    it("reads a file", function()
      local d = T.tmpdir(finally)
      T.write(d .. "/.dockerignore", "x\n!y\n")
      local list = assert(ignore.read(d .. "/.dockerignore"))
      assert.same({ { pattern = "x", line = 1, file = d .. "/.dockerignore" },
        { pattern = "!y", line = 2, file = d .. "/.dockerignore" } }, list)
    end)

    it("takes a context's missing file for an empty one, but not a file named on purpose", function()
      local d = T.tmpdir(finally)
      assert.same({}, ignore.read(d .. "/.dockerignore", d))
      assert.same({ nil, "ENOENT: No such file or directory: " .. d .. "/ignore", "ENOENT" },
        { ignore.read(d .. "/ignore") })
    end)

    it("fails with the system's reason otherwise", function()
      local d = T.tmpdir(finally)
      assert.same(table.pack(nil, "EISDIR: Is a directory: " .. d, "EISDIR"), table.pack(ignore.read(d)))
      T.write(d .. "/f", "")
      assert.same(table.pack(nil, "ENOTDIR: Not a directory: " .. d .. "/f/.dockerignore", "ENOTDIR"),
        table.pack(ignore.read(d .. "/f/.dockerignore")))
    end)
  end)

  describe("compile()", function()
    it("puts extra patterns after the file's, so they win", function()
      local m, explain = ignore.compile(assert(ignore.parse("*.md\n!README.md", "f")), { "README.md" })
      local ex, why = m:matches("README.md")
      assert.is_true(ex)
      assert.same({ pattern = "README.md", index = 1 }, explain(why))
      ex, why = m:matches("x.md")
      assert.same({ true, { pattern = "*.md", line = 1, file = "f" } }, { ex, explain(why) })
    end)

    it("cleans extra patterns as lines are cleaned, without comments", function()
      local m, explain = ignore.compile({}, { " /a/../b ", "", "#c" })
      assert.is_true((m:matches("b")))
      assert.is_true((m:matches("#c")))
      assert.equal("#c", explain(select(2, m:matches("#c"))).pattern)
    end)

    it("names the file and line of a bad pattern, or its place among the extra ones", function()
      assert.same(table.pack(nil, "f:3: bad pattern '[a': syntax error in pattern: unterminated "
        .. "character class", "BADPATTERN"), table.pack(ignore.compile(assert(ignore.parse("a\n\n[a", "f")))))
      assert.same(table.pack(nil, "exclude[1]: bad pattern 'x\\\\': syntax error in pattern: trailing backslash",
        "BADPATTERN"), table.pack(ignore.compile({}, { "x\\" })))
      assert.same(table.pack(nil, "exclude[2]: bad pattern '!': illegal exclusion pattern: \"!\"", "BADPATTERN"),
        table.pack(ignore.compile({}, { "a", "!" })))
    end)
  end)
end)
