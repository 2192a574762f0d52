-- Shell-word expansion (ocibuild.dockerfile.shell) as BuildKit's lexer
-- does it: a table per form, with the environment each table uses.
local shell = require "ocibuild.dockerfile.shell"

local ENV = { PWD = "/home", EMPTY = "", PATH = "/usr/bin:/bin", FILE = "archive.tar.gz", SP = "a  b",
  URL = "https://example.com/a/b/c.txt", SPACE = " x " }

local function word(cases, lex)
  lex = lex or shell.new("\\")
  for _, c in ipairs(cases) do
    local got, err = lex:word(c[1], ENV)
    if c[2] == false then
      assert.is_nil(got, c[1])
      assert.is_string(err, c[1])
      if c[3] then assert.matches(c[3], err, 1, true) end
    else
      assert.equal(c[2], got, ("%q: %s"):format(c[1], tostring(err)))
    end
  end
end

describe("ocibuild.dockerfile.shell", function()
  describe("word()", function()
    it("expands $v and ${v}, unset as empty, with names as the shell reads them", function()
      word {
        { "$PWD", "/home" }, { "${PWD}", "/home" }, { "a$PWD.b", "a/home.b" }, { "$NOPE", "" },
        { "${NOPE}x", "x" }, { "$1x", "x" }, { "$", "$" }, { "$.", "$." }, { "a$", "a$" },
        { "$PWDx", "" }, { "${PWD}x", "/homex" }, { "$_A", "" }, { "$@", "" }, { "$é", "" },
      }
    end)

    it("takes quotes away, expanding inside double quotes only", function()
      word {
        { "'$PWD'", "$PWD" }, { '"$PWD"', "/home" }, { [["a'b"]], "a'b" }, { [['a"b']], 'a"b' },
        { [["\$PWD"]], "$PWD" }, { [["\"x\""]], '"x"' }, { [["a\b"]], "a\\b" }, { [[a\$PWD]], "a$PWD" },
        { [[a\\b]], "a\\b" }, { [[\]], "" }, { "'a", false, "single-quote" }, { '"a', false, "double-quote" },
      }
    end)

    it("applies the default, alternative and required forms", function()
      word {
        { "${NOPE:-d}", "d" }, { "${EMPTY:-d}", "d" }, { "${PWD:-d}", "/home" }, { "${NOPE-d}", "d" },
        { "${EMPTY-d}", "" }, { "${NOPE:+a}", "" }, { "${EMPTY:+a}", "" }, { "${PWD:+a}", "a" },
        { "${EMPTY+a}", "a" }, { "${NOPE:-$PWD/x}", "/home/x" }, { "${NOPE:-${EMPTY:-deep}}", "deep" },
        { "${PWD:?}", "/home" }, { "${NOPE:?must be set}", false, "NOPE: must be set" },
        { "${EMPTY:?}", false, "EMPTY: is not allowed to be empty" }, { "${NOPE?}", false,
          "is not allowed to be unset" },
        { "${EMPTY?}", "" },
      }
    end)

    it("removes prefixes and suffixes, shortest and longest, with * and ? and escapes", function()
      word {
        { "${FILE#*.}", "tar.gz" }, { "${FILE##*.}", "gz" }, { "${FILE%.*}", "archive.tar" },
        { "${FILE%%.*}", "archive" }, { "${FILE#arch}", "ive.tar.gz" }, { "${FILE#nothing}", "archive.tar.gz" },
        { "${URL##*/}", "c.txt" }, { "${URL%/*}", "https://example.com/a/b" }, { "${FILE#?r}", "chive.tar.gz" },
        { "${NOPE#x}", "" }, { "${PATH#*:}", "/bin" }, { "${FILE%.g?}", "archive.tar" },
        { "${FILE:#x}", false, "unsupported modifier (:#)" }, { "${FILE#\\x}", false, "invalid escape" },
        { "${FILE%\\.gz}", false, "invalid escape '\\.'" }, { "${FILE%\\*}", "archive.tar.gz" },
      }
    end)

    it("replaces the first or every match of a pattern", function()
      word {
        { "${PATH/bin/sbin}", "/usr/sbin:/bin" }, { "${PATH//bin/sbin}", "/usr/sbin:/sbin" },
        { "${PATH//:/ }", "/usr/bin /bin" }, { "${FILE/*./x}", "xgz" }, { "${FILE//a/}", "rchive.tr.gz" },
        { "${NOPE/a/b}", "" }, { "${FILE//\\//x}", "archive.tar.gz" }, { "${FILE/a}", false, "missing '/'" },
      }
    end)

    it("refuses bad substitutions", function()
      word {
        { "${}", false, "bad substitution" }, { "${:a}", false, "bad substitution" }, { "${PWD", false,
          "unsupported modifier" },
        { "${PWD:-x", false, "missing '}'" },
        { "${PWD:x}", false, "unsupported modifier (:x)" }, { "${PWD!}", false, "unsupported modifier (!)" },
      }
    end)

    it("leaves unset variables as written with skip_unset, and quotes with raw_quotes", function()
      local lex = shell.new("\\")
      lex.skip_unset, lex.raw_quotes = true, true
      word({ { "$NOPE", "$NOPE" }, { "${NOPE}", "${NOPE}" }, { "${NOPE:-x}", "${NOPE:-x}" },
        { "'$PWD'", "'$PWD'" }, { '"$PWD"', '"/home"' } }, lex)
    end)

    it("uses the backtick as escape when the Dockerfile chooses it", function()
      word({ { "a`$PWD", "a$PWD" }, { "C:\\dir", "C:\\dir" }, { '"`"q`""', '"q"' } }, shell.new("`"))
    end)
  end)

  describe("words()", function()
    it("splits what expansion yields on white space, never what quotes hold", function()
      local lex = shell.new("\\")
      for _, c in ipairs {
        { "a b", { "a", "b" } }, { "  a  ", { "a" } }, { "$SP", { "a", "b" } }, { '"$SP"', { "a  b" } },
        { "x$SPACE", { "x", "x" } }, { "a\\ b", { "a b" } }, { "'a b' c", { "a b", "c" } }, { '""', {} },
        { "80 443/udp", { "80", "443/udp" } },
      } do
        assert.same(c[2], lex:words(c[1], ENV), c[1])
      end
    end)
  end)
end)
