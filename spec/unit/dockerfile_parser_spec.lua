-- The Dockerfile parser (ocibuild.dockerfile.parser): tables of
-- Dockerfiles and the parse tree BuildKit's parser makes of them, written
-- as BuildKit's Node.Dump writes it, one table per feature.
local parser = require "ocibuild.dockerfile.parser"

local function dump(src)
  local tree, err, code = parser.parse(src, "Dockerfile")
  if not tree then return nil, err, code end
  local out = {}
  for _, n in ipairs(tree.nodes) do out[#out + 1] = parser.dump(n) end
  return table.concat(out, "\n"), tree
end

local function cases(list)
  for _, c in ipairs(list) do
    local got, err = dump(c[1])
    assert.equal(c[2], got, ("%q: %s"):format(c[1], tostring(err)))
  end
end

describe("ocibuild.dockerfile.parser", function()
  describe("parse()", function()
    it("reads instructions, their case kept, arguments per instruction", function()
      cases {
        { "FROM alpine", '(from "alpine")' },
        { "from Alpine AS Build", '(from "Alpine" "AS" "Build")' },
        { "COPY a b /dst/", '(copy "a" "b" "/dst/")' },
        { "ENV A=1 B=\"x y\"", '(env "A" "1" "=" "B" "\\"x y\\"" "=")' },
        { "ENV A 1 2", '(env "A" "1 2" "")' },
        { "LABEL a.b=c", '(label "a.b" "c" "=")' },
        { "ARG A B=2", '(arg "A" "B=2")' },
        { "EXPOSE 80  443/udp", '(expose "80" "443/udp")' },
        { "USER app:app", '(user "app:app")' },
        { "WORKDIR /a b", '(workdir "/a b")' },
        { "MAINTAINER Jo <jo@example.com>", '(maintainer "Jo <jo@example.com>")' },
        { "STOPSIGNAL SIGTERM", '(stopsignal "SIGTERM")' },
        { "VOLUME /a /b", '(volume "/a" "/b")' },
        { "HEALTHCHECK NONE", '(healthcheck "NONE")' },
        { "HEALTHCHECK --retries=3 CMD curl -f x", '(healthcheck ["--retries=3"] "CMD" "curl -f x")' },
        { "ONBUILD COPY . /app", '(onbuild (copy "." "/app"))' },
        { "ONBUILD", "(onbuild)" },
        { "FOO bar", '(foo "")' },
      }
    end)

    it("takes JSON arrays as exec form, and anything else that is not one as shell form", function()
      cases {
        { 'CMD ["a", "b c"]', '(cmd "a" "b c")' },
        { "CMD ['a']", "(cmd \"['a']\")" },
        { 'CMD ["a"', '(cmd "[\\"a\\"")' },
        { 'CMD ["a" "b"]', '(cmd "[\\"a\\" \\"b\\"]")' },
        { "CMD []", "(cmd)" },
        { 'ENTRYPOINT ["x\\u00e9"]', '(entrypoint "xé")' },
        { 'COPY ["a b", "/c"]', '(copy "a b" "/c")' },
        { "COPY [a, /c]", '(copy "[a," "/c]")' },
        { 'SHELL ["/bin/bash", "-c"]', '(shell "/bin/bash" "-c")' },
        { 'CMD [ "x" ] trailing', '(cmd "[ \\"x\\" ] trailing")' },
      }
      local _, err, code = dump('CMD ["a", 1]')
      assert.same({ "Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings only",
        "BADDOCKERFILE" }, { err, code })
    end)

    it("takes flags before the arguments, up to '--'", function()
      cases {
        { "COPY --from=build --chown=1:2 a /b", '(copy ["--from=build" "--chown=1:2"] "a" "/b")' },
        { "COPY --link -- --a /b", '(copy ["--link"] "--a" "/b")' },
        { 'COPY --x="a b" c d', '(copy ["--x=a b"] "c" "d")' },
        { 'COPY "--x=a b" c d', '(copy "\\"--x=a" "b\\"" "c" "d")' },
        { "COPY --exclude=*.go --exclude=*.md . /", '(copy ["--exclude=*.go" "--exclude=*.md"] "." "/")' },
        { "COPY - -x", '(copy "-" "-x")' },
      }
    end)

    it("joins continuation lines, skipping comments and empty lines inside them", function()
      cases {
        { "RUN a \\\n  b", '(run "a   b")' },
        { "COPY a \\\n# a comment\n\n  b /c", '(copy "a" "b" "/c")' },
        { "ENV A=1 \\\n\n", '(env "A" "1" "=")' },
        { "  # indented comment\nFROM x", '(from "x")' },
        { "FROM x # not a comment", '(from "x" "#" "not" "a" "comment")' },
        { "LABEL a=b\\\\\nFROM x", '(label "a" "b\\\\\\\\" "=")\n(from "x")' },
        { "FROM a\r\nFROM b\r\n", '(from "a")\n(from "b")' },
        { "\239\187\191FROM x", '(from "x")' },
      }
    end)

    it("reads parser directives only before anything else, case-insensitively", function()
      local _, tree = dump("# syntax=docker/dockerfile:1\n# ESCAPE = `\n# check=skip=all\nFROM x\nCOPY a `\n b /c\n")
      assert.equal("`", tree.escape)
      assert.same({ syntax = "docker/dockerfile:1", escape = "`", check = "skip=all" }, tree.directives)
      assert.equal('(copy "a" "b" "/c")', parser.dump(tree.nodes[2]))
      -- after a comment or an empty line, a directive is a comment
      _, tree = dump("# hello\n# escape=`\nFROM x\n")
      assert.equal("\\", tree.escape)
      _, tree = dump("\n# escape=`\nFROM x\n")
      assert.equal("\\", tree.escape)
      _, tree = dump("# unknown=1\n# escape=`\nFROM x\n")
      assert.equal("\\", tree.escape)
      local _, err = dump("# escape=`\n# escape=\\\nFROM x\n")
      assert.equal("Dockerfile:2: only one escape parser directive can be used", err)
      _, err = dump("# escape=x\nFROM x\n")
      assert.equal("Dockerfile:1: invalid escape token 'x' does not match ` or \\", err)
    end)

    it("keeps the escape character in words, and the backtick escapes when chosen", function()
      cases {
        { "ENV A=a\\ b", '(env "A" "a\\\\ b" "=")' },
        { "# escape=`\nCOPY a `\n b", '(copy "a" "b")' },
        { "# escape=`\nENV P=C:\\x", '(env "P" "C:\\\\x" "=")' },
      }
    end)

    it("reads heredocs of COPY, ADD and RUN to their delimiter", function()
      local _, tree = dump("FROM x\nCOPY <<EOF <<-'END' /dst/\nhello $A\n\tEOF\nEOF\n\tbody\n\tEND\nCMD a\n")
      local h = tree.nodes[2].heredocs
      assert.same({ name = "EOF", chomp = false, expand = true, fd = nil, content = "hello $A\n\tEOF\n" },
        { name = h[1].name, chomp = h[1].chomp, expand = h[1].expand, fd = h[1].fd, content = h[1].content })
      assert.same({ "END", true, false, "\tbody\n" }, { h[2].name, h[2].chomp, h[2].expand, h[2].content })
      assert.equal("\tbody\n", h[2].content)
      assert.equal("body\n", parser.chomp(h[2].content))
      assert.equal(7, tree.nodes[2].end_line)
      assert.equal(8, tree.nodes[3].line)
      _, tree = dump('FROM x\nCOPY <<"EOF" /a\n$X\nEOF\n')
      assert.is_false(tree.nodes[2].heredocs[1].expand)
      _, tree = dump("FROM x\nCOPY [\"<<EOF\", \"/a\"]\n")
      assert.same({}, tree.nodes[2].heredocs)
      local _, err = dump("FROM x\nCOPY <<EOF /a\nno end\n")
      assert.equal("Dockerfile:2: unterminated heredoc", err)
    end)

    it("refuses files with nothing to build and lines too long", function()
      assert.same({ nil, "Dockerfile:1: file with no instructions", "BADDOCKERFILE" }, { dump("") })
      assert.same({ nil, "Dockerfile:2: file with no instructions", "BADDOCKERFILE" }, { dump("# a\n# b\n") })
      local _, err = dump("FROM x\nLABEL a=" .. ("x"):rep(70000) .. "\n")
      assert.equal("Dockerfile:2: dockerfile line greater than max allowed size of 65535", err)
      _, err = dump("ENV PATH\n")
      assert.equal("Dockerfile:1: ENV must have two arguments", err)
      assert.equal('(label "a" "b=c" "")', dump("LABEL a b=c\n"))
      _, err = dump('LABEL a=b c\n')
      assert.equal('Dockerfile:1: Syntax error - can\'t find = in "c". Must be of the form: name=value', err)
    end)

    it("numbers lines from 1, a continued instruction from its first line", function()
      local _, tree = dump("# c\n\nFROM x\nCOPY a \\\n  b \\\n  /c\nUSER u\n")
      assert.same({ 3, 4, 7 }, { tree.nodes[1].line, tree.nodes[2].line, tree.nodes[3].line })
      assert.equal(6, tree.nodes[2].end_line)
    end)
  end)

  describe("heredoc()", function()
    it("recognises <<WORD, <<-WORD, quoted words and file descriptors", function()
      for _, c in ipairs {
        { "<<EOF", "EOF", false, true }, { "<<-EOF", "EOF", true, true }, { "<<'EOF'", "EOF", false, false },
        { '<<"E O"', "E O", false, false }, { "3<<EOF", "EOF", false, true }, { "<< EOF", "EOF", false, true },
      } do
        local h = parser.heredoc(c[1])
        assert.same({ c[2], c[3], c[4] }, { h.name, h.chomp, h.expand }, c[1])
      end
      for _, w in ipairs { "<<", "a<<EOF", "<<EOF<", "<EOF", "<<a b" } do assert.is_nil(parser.heredoc(w), w) end
    end)
  end)
end)
