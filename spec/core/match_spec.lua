-- The exclusion matcher alone (core.matcher): Docker's pattern semantics,
-- the walk's per-directory state, fsutil's rule for entering an excluded
-- directory, and the failures. Agreement with Docker's own code on
-- thousands of cases is spec/diff's job; this file pins the behaviour.
local core = require "ocibuild.core"

local function excluded(pats, path)
  local m = assert(core.matcher(pats))
  return (m:matches(path))
end

-- The walk's answer for path, chained from its top directory down.
local function walked(m, path)
  local state, ex, why
  local prefix = ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix == "" and part or prefix .. "/" .. part
    ex, state, why = m:walk(prefix, state)
  end
  return ex, why
end

describe("ocibuild.core", function()
  describe("matcher()", function()
    it("anchors patterns at the context root", function()
      assert.is_true(excluded({ "*.log" }, "a.log"))
      assert.is_false(excluded({ "*.log" }, "logs/a.log"))
      assert.is_true(excluded({ "**/*.log" }, "logs/a.log"))
      assert.is_true(excluded({ "a/b" }, "a/b"))
      assert.is_false(excluded({ "b" }, "a/b"))
    end)

    it("excludes what is below an excluded directory", function()
      assert.is_true(excluded({ "a" }, "a/b/c"))
      assert.is_true(excluded({ "a/*" }, "a/b/c"))
      assert.is_false(excluded({ "a/*" }, "a"))
      assert.is_false(excluded({ "ab" }, "a/b"))
    end)

    it("never lets * and ? cross a slash", function()
      assert.is_false(excluded({ "a*c" }, "ab/c"))
      assert.is_false(excluded({ "a?c" }, "a/c"))
      assert.is_true(excluded({ "a?c" }, "abc"))
    end)

    it("reads ? as one character, not one byte", function()
      assert.is_true(excluded({ "?" }, "é"))
      assert.is_false(excluded({ "??" }, "é"))
      assert.is_true(excluded({ "?" }, "\255")) -- an invalid byte is one character
    end)

    it("gives ** its meaning at the start, in the middle and at the end", function()
      for _, c in ipairs {
        { "**/a", "a", true }, { "**/a", "x/y/a", true }, { "**/a", "xa", false },
        { "a/**/b", "a/b", true }, { "a/**/b", "a/x/y/b", true }, { "a/**/b", "a/xb", false },
        { "a/**", "a/x/y", true }, { "a/**", "ab", false }, { "a**", "ab/c", true },
        { "**", "anything/at/all", true }, { "**a", "x/ba", true },
      } do
        assert.are.equal(c[3], excluded({ c[1] }, c[2]), c[1] .. " ~ " .. c[2])
      end
    end)

    it("supports classes with ranges, negation and escapes", function()
      assert.is_true(excluded({ "[a-c]x" }, "bx"))
      assert.is_false(excluded({ "[a-c]x" }, "dx"))
      assert.is_true(excluded({ "[^a]" }, "b"))
      assert.is_false(excluded({ "[^a]" }, "a"))
      assert.is_true(excluded({ "[\\]]" }, "]"))
      assert.is_true(excluded({ "[!a]" }, "!")) -- '!' does not negate
      assert.is_true(excluded({ "\\*" }, "*"))
      assert.is_false(excluded({ "\\*" }, "a"))
    end)

    it("follows Docker's regular expressions where they surprise", function()
      assert.is_true(excluded({ "[[:alpha:]]" }, "a"))
      assert.is_true(excluded({ "\\d" }, "7"))
      assert.is_true(excluded({ "a\\.b" }, "a.b"))
      assert.is_false(excluded({ "a\\.b" }, "axb"))
      assert.is_true(excluded({ "\\x41" }, "A"))
      -- a raw ^ is an anchor once the pattern is a regular expression
      assert.is_true(excluded({ "a^b" }, "a^b"))
      assert.is_false(excluded({ "a^b*" }, "a^bc"))
      -- [*] becomes the class [[^/] repeated, then a literal ]
      assert.is_true(excluded({ "[*]" }, "[^]"))
      assert.is_false(excluded({ "[*]" }, "*"))
      -- '|' and '{' reach the expression unescaped
      assert.is_true(excluded({ "*|x" }, "anything"))
      assert.is_true(excluded({ "a|b" }, "a|b"))
      assert.is_true(excluded({ "?{2}" }, "ab"))
      assert.is_false(excluded({ "?{2}" }, "abc"))
      -- \Q quotes up to \E, or to the end, '$' included
      assert.is_true(excluded({ "\\Q*\\E" }, "[^/]*"))
      assert.is_true(excluded({ "a\\Qb*" }, "ab[^/]*$/x"))
    end)

    it("lets the last matching pattern win, so ! re-includes", function()
      assert.is_false(excluded({ "*.md", "!README.md" }, "README.md"))
      assert.is_true(excluded({ "*.md", "!README.md" }, "x.md"))
      assert.is_true(excluded({ "!a", "a" }, "a"))
      assert.is_false(excluded({ "a", "!a/b" }, "a/b/c"))
      assert.is_true(excluded({ "a", "!a/b", "a" }, "a/b"))
    end)

    it("trims and cleans each pattern as Docker does", function()
      assert.is_true(excluded({ "  a/./b/  " }, "a/b"))
      assert.is_true(excluded({ "a/../b" }, "b"))
      assert.is_true(excluded({ "\194\160a" }, "a")) -- U+00A0 is white space
      -- "!../a" keeps '!' inside its first element: the exception is "../a"
      assert.is_true(excluded({ "*", "!../a" }, "a"))
    end)

    it("names the deciding pattern by its index in the list, empty ones counted", function()
      local m = assert(core.matcher { "  ", "*.md", "", "!README.md" })
      assert.same({ true, 2 }, { m:matches("x.md") })
      assert.same({ false, 4 }, { m:matches("README.md") })
      assert.same({ false }, { m:matches("x.go") })
    end)
  end)

  describe("matcher:walk()", function()
    it("matches with the parent directory's results", function()
      local m = assert(core.matcher { "a/c", "!a" })
      -- the walk excludes a/c; the per-path answer keeps it ("!a" matches a)
      assert.same({ true, 1 }, { walked(m, "a/c") })
      assert.same({ false, 2 }, { m:matches("a/c") })
    end)

    it("checks the parents itself when given no parent state", function()
      local m = assert(core.matcher { "a" })
      local ex, state, why = m:walk("a/b/c")
      assert.is_true(ex)
      assert.equal(1, why)
      assert.equal(1, #state)
      assert.is_false((m:walk("b/c")))
    end)

    it("returns an opaque state of one bit per pattern", function()
      local pats = {}
      for i = 1, 17 do pats[i] = "p" .. i end
      local m = assert(core.matcher(pats))
      local _, state = m:walk("p9")
      assert.equal("\0\1\0", state)
      assert.is_true((m:walk("p9/x", state)))
    end)

    it("leaves a skipped pattern's bit clear, as Docker does", function()
      -- For "a", the third pattern is skipped (the path is excluded already),
      -- so its bit stays clear although "a" matches it; below "a" it is
      -- then matched against the path alone.
      local m = assert(core.matcher { "a", "!a/b", "a" })
      local _, state = m:walk("a")
      assert.equal("\1", state)
      local ex, _, why = m:walk("a/b", state)
      assert.same({ false, 2 }, { ex, why })
      assert.same({ true, 3 }, { m:matches("a/b") })
    end)

    it("raises on a state from another matcher", function()
      local m = assert(core.matcher { "a" })
      assert.has_error(function() m:walk("a/b", "\0\0") end)
    end)
  end)

  describe("matcher:descend()", function()
    it("enters an excluded directory only when an exception may match below", function()
      local m = assert(core.matcher { "a", "!a/b/c" })
      assert.is_true(m:descend("a"))
      assert.is_true(m:descend("a/b"))
      assert.is_false(m:descend("x"))
      assert.is_false(m:descend("a/b/cd"))
      assert.is_false(assert(core.matcher { "a" }):descend("a"))
    end)

    it("always enters when an exception has pattern characters", function()
      assert.is_true(assert(core.matcher { "a", "!b/*.go" }):descend("a"))
      assert.is_true(assert(core.matcher { "a", "!b?" }):descend("x"))
      -- a trailing /** or /* does not count
      local m = assert(core.matcher { "a", "!a/b/**" })
      assert.is_true(m:descend("a/b"))
      assert.is_false(m:descend("c"))
    end)
  end)

  describe("matcher() failures", function()
    local function fails(pats) return table.pack(core.matcher(pats)) end

    it("rejects what filepath.Match rejects", function()
      assert.same(table.pack(nil, "bad pattern '[a': syntax error in pattern: unterminated character class",
        "BADPATTERN", 1), fails { "[a" })
      assert.same(table.pack(nil, "bad pattern 'a\\\\': syntax error in pattern: trailing backslash",
        "BADPATTERN", 2), fails { "ok", "a\\" })
      assert.same(table.pack(nil, "bad pattern '[]a]': syntax error in pattern: empty character class",
        "BADPATTERN", 1), fails { "[]a]" })
    end)

    it("rejects what Go's regexp rejects, up front", function()
      assert.same(table.pack(nil, "bad pattern '[z-a]': syntax error in pattern: invalid character "
        .. "class range, in regular expression ^[z-a]$", "BADPATTERN", 1), fails { "[z-a]" })
      local r = fails { "a", "!x\\E" }
      assert.same({ nil, "BADPATTERN", 2 }, { r[1], r[3], r[4] })
      assert.matches("invalid escape sequence", r[2])
    end)

    it("rejects an exception with nothing after its '!'", function()
      assert.same(table.pack(nil, "bad pattern '!/': illegal exclusion pattern: \"!\"", "BADPATTERN", 1),
        fails { "!/" })
    end)

    it("refuses Unicode classes, which it does not implement", function()
      assert.same(table.pack(nil, "bad pattern '\\\\pL': unsupported: Unicode classes (\\p, \\P) in "
        .. "a regular expression", "BADPATTERN", 1), fails { "\\pL" })
    end)

    it("raises on misuse", function()
      assert.has_error(function() core.matcher("a") end)
      assert.has_error(function() core.matcher { 1 } end)
      assert.has_error(function() assert(core.matcher {}):matches() end)
    end)
  end)
end)
