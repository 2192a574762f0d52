-- Dockerfile instructions and stages: flags and arguments checked as
-- BuildKit checks them (ocibuild.dockerfile.instructions), the stages
-- planned for a platform (ocibuild.dockerfile.stages), and the owners and
-- modes of copies (ocibuild.build.perm).
local instructions = require "ocibuild.dockerfile.instructions"
local parser = require "ocibuild.dockerfile.parser"
local perm = require "ocibuild.build.perm"
local stages = require "ocibuild.dockerfile.stages"

local AMD64 = { os = "linux", architecture = "amd64" }
local ARM64 = { os = "linux", architecture = "arm64" }

local function parse(src)
  local tree = assert(parser.parse(src, "Dockerfile"))
  return instructions.parse(tree, "Dockerfile")
end

local function one(src)
  local tree = assert(parser.parse(src, "Dockerfile"))
  return instructions.instruction(tree.nodes[1])
end

local function plan(src, o)
  local df, err, code = parse(src)
  if not df then return nil, err, code end
  o = o or {}
  return stages.plan(df, { file = "Dockerfile", escape = "\\", args = o.args or {}, target = o.target,
    platform = o.platform or AMD64, build = AMD64 })
end

describe("ocibuild.dockerfile.instructions", function()
  it("refuses bad flags and argument counts with BuildKit's words", function()
    for _, c in ipairs {
      { "COPY --nope a b", "unknown flag: --nope" },
      { "COPY --form=x a b", "unknown flag: --form (did you mean from?)" },
      { "COPY --from a b", "missing a value on flag: --from" },
      { "COPY --from=a --from=b c d", "duplicate flag specified: --from" },
      { "COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe" },
      { "COPY --link= a b", "missing a value on flag: --link" },
      { "COPY a", "COPY requires at least two arguments, but only one was provided. Destination could not be "
        .. "determined" },
      { "COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination" },
      { "STOPSIGNAL --x=1 TERM", "unknown flag: --x" },
      { "WORKDIR", "WORKDIR requires exactly one argument" },
      { "EXPOSE", "EXPOSE requires at least one argument" },
      { "FROM a b", "FROM requires either one or three arguments" },
      { "FROM a AS 1x", 'invalid name for build stage: "1x", name can\'t start with a number or contain symbols' },
      { "SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form" },
      { "ONBUILD ONBUILD CMD x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" },
      { "ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger" },
      { "HEALTHCHECK CONNECT x", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)' },
      { "HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD" },
      { "HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments" },
      { "HEALTHCHECK --interval=1ns CMD x", 'Interval "interval" cannot be less than 1ms' },
      { "HEALTHCHECK --timeout=5 CMD x", 'time: missing unit in duration "5"' },
      { "HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)" },
      { "ARG =x", "ARG names can not be blank" },
      { "COPPY a b", "unknown instruction: COPPY (did you mean copy?)" },
    } do
      local ins, err = one(c[1])
      assert.is_nil(ins, c[1])
      assert.equal(c[2], err, c[1])
    end
  end)

  it("shapes each instruction", function()
    assert.same({ "CMD-SHELL", "curl -f x" }, one("HEALTHCHECK CMD curl -f x").test)
    local h = one("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2h --retries=3 CMD [\"a\", \"b\"]")
    assert.same({ { "CMD", "a", "b" }, 90e9, 500e6, 7200e9, 3 }, { h.test, h.interval, h.timeout, h.start_period,
      h.retries })
    assert.same({ test = { "NONE" } }, { test = one("HEALTHCHECK NONE").test })
    local c = one("COPY --from=build --chown=a:b --chmod=755 --link --parents --exclude=x --exclude=y s1 s2 /d/")
    assert.same({ "build", "a:b", "755", true, true, { "x", "y" }, { "s1", "s2" }, "/d/" },
      { c.from, c.chown, c.chmod, c.link, c.parents, c.excludes, c.srcs, c.dest })
    local a = one("ADD --checksum=sha256:abc --unpack=false --keep-git-dir=true https://x/y /z")
    assert.same({ "sha256:abc", false, true }, { a.checksum, a.unpack, a.keep_git_dir })
    assert.same({ "80", "8080/tcp", "9/udp" }, one("EXPOSE 9/udp 8080/tcp 80").ports)
    assert.same({ cmd = { "echo hi   there" }, shell = true }, { cmd = one("CMD echo hi   there").cmd,
      shell = one("CMD echo hi   there").shell })
    assert.is_nil(one("ENTRYPOINT []").cmd)
    assert.same({}, one("CMD []").cmd)
    assert.equal("COPY a /b", one("ONBUILD COPY a /b").expression)
    assert.same({ { key = "A" }, { key = "B", value = "1=2" } }, one("ARG A B=1=2").args)
  end)

  it("reads Go durations", function()
    for _, c in ipairs { { "0", 0 }, { "1s", 1e9 }, { "1.5h", 5400e9 }, { "2m3s", 123e9 }, { "300ms", 300e6 },
      { "1us", 1000 }, { "-2s", -2e9 } } do
      assert.equal(math.tointeger(c[2]), instructions.duration(c[1]), c[1])
    end
    for _, s in ipairs { "", "s", "1", "1x", ".s" } do assert.is_nil(instructions.duration(s), s) end
  end)

  it("puts the ARGs before the first FROM apart, and nothing else may come before it", function()
    local df = assert(parse("ARG A=1\nARG B\nFROM x\nARG C\n"))
    assert.equal(2, #df.meta)
    assert.equal(1, #df.stages[1].cmds)
    local _, err = parse("ENV A=1\nFROM x\n")
    assert.equal("Dockerfile:1: no build stage in current context (ENV comes before the first FROM)", err)
  end)
end)

describe("ocibuild.dockerfile.stages", function()
  it("expands FROM with the global ARGs, --build-arg values and the platform ARGs only", function()
    local p = assert(plan("ARG TAG=1\nARG REG=r.example\nFROM $REG/app:${TAG}-$TARGETARCH\nENV X=1\n",
      { args = { TAG = "2" }, platform = ARM64 }))
    assert.equal("r.example/app:2-arm64", p.stages[1].base)
    assert.equal("linux/arm64", p.global.TARGETPLATFORM)
    assert.equal("linux/amd64", p.global.BUILDPLATFORM)
    p = assert(plan("ARG V\nFROM scratch AS a\nFROM --platform=$BUILDPLATFORM scratch AS b\n"))
    assert.same({ os = "linux", architecture = "amd64" }, p.stages[2].platform)
    local _, err = plan("ARG E\nFROM ${E}\n")
    assert.equal("Dockerfile:2: base name (${E}) should not be blank", err)
  end)

  it("finds the target and the stages it needs, and only those are checked", function()
    local src = "FROM scratch AS a\nCOPY x /\nFROM scratch AS b\nRUN make\nFROM a AS c\nCOPY --from=0 / /\n"
      .. "FROM scratch AS d\nCOPY --from=c / /\n"
    local p = assert(plan(src))
    assert.equal("d", p.target.name)
    local needed = {}
    for s in pairs(p.needed) do needed[#needed + 1] = s.name end
    table.sort(needed)
    assert.same({ "a", "c", "d" }, needed)
    local _, err, code = plan(src, { target = "b" })
    assert.same({ "Dockerfile:4: RUN is not supported: " .. stages.RUN_HINT, "USAGE" }, { err, code })
    _, err, code = plan(src, { target = "nope" })
    assert.same({ 'Dockerfile: target stage "nope" could not be found (stages: a, b, c, d)', "USAGE" }, { err, code })
    assert.equal("a", assert(plan(src, { target = "A" })).target.name)
  end)

  it("refuses what needs running or fetching unverified, and copies from later stages", function()
    local _, err, code = plan("FROM scratch AS a\nONBUILD RUN make\nFROM a\n")
    assert.same({ 'Dockerfile:3: stage "a" has the trigger ONBUILD RUN make (line 2), which this stage would run: '
      .. stages.RUN_HINT, "USAGE" }, { err, code })
    _, err, code = plan("FROM scratch\nADD https://example.com/x /x\n")
    assert.equal("USAGE", code)
    assert.matches("^Dockerfile:2: ADD https://example.com/x needs %-%-checksum=sha256:", err)
    _, err = plan("FROM scratch\nARG S=a\nCOPY --from=$S / /\n")
    assert.matches("^Dockerfile:3: variable expansion is not supported for %-%-from", err)
    _, err = plan("FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\n", { target = "a" })
    assert.equal('Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"', err)
    _, err = plan("FROM scratch\nCOPY --from=7 / /\n")
    assert.equal("Dockerfile:2: invalid stage index 7", err)
    assert.truthy(plan("FROM scratch\nONBUILD RUN make\n"))
  end)
end)

describe("ocibuild.build.perm", function()
  it("applies symbolic modes as BuildKit does", function()
    for _, c in ipairs {
      { "u+x", "644", false, "744" }, { "g=r", "664", false, "644" }, { "o=", "644", false, "640" },
      { "a=rX", "644", false, "444" }, { "a=rX", "700", true, "555" }, { "a=rX", "744", false, "555" },
      { "+x", "600", false, "711" }, { "go-w", "666", false, "644" }, { "u=rwx,go=rx", "0", false, "755" },
      { "u+s", "755", false, "4755" }, { "g+s,+t", "755", true, "3755" }, { "o=u", "740", false, "747" },
      { "g=u-w", "640", false, "640" }, { "a-x", "755", false, "644" }, { "u=rw,g=u", "600", false, "660" },
    } do
      local m = assert(perm.chmod(c[1]))
      assert.equal(c[4], ("%o"):format(perm.apply(m, tonumber(c[2], 8), c[3])), c[1] .. " on " .. c[2])
    end
    assert.same({ octal = 420 }, perm.chmod("644"))
    assert.same({ octal = 3565 }, perm.chmod("06755"))
    for _, s in ipairs { "8", "17777", "0x1", "u+z", "u", "z=r", "u+x,", "" } do
      assert.is_nil(perm.chmod(s), s)
    end
    assert.equal("invalid chmod parameter: '8'. it should be octal string and between 0 and 07777",
      select(2, perm.chmod("8")))
  end)

  it("resolves owners by id or by name from the image's files", function()
    local files = { passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n\napp:x:5:5::/:/bin/sh\n",
      group = "root:x:0:\nstaff:x:50:app\n" }
    local function read(k) return files[k] end
    for _, c in ipairs { { "0", 0, 0 }, { "root", 0, 0 }, { "12", 12, 12 }, { "12:34", 12, 34 },
      { "app", 1000, 1001 }, { "app:staff", 1000, 50 }, { "12:staff", 12, 50 }, { "app:7", 1000, 7 },
      { "root:root", 0, 0 } } do
      assert.same({ c[2], c[3] }, { perm.owner(c[1], read, true) }, c[1])
    end
    assert.same({ nil, 'no user "nobody" in the image\'s /etc/passwd', "BADVALUE" }, { perm.owner("nobody", read,
      true) })
    assert.same({ nil, 'no group "wheel" in the image\'s /etc/group', "BADVALUE" }, { perm.owner("app:wheel", read,
      true) })
    assert.same({ nil, 'the image has no /etc/passwd to find user "app" in', "BADVALUE" },
      { perm.owner("app", function() end, true) })
    local warned
    assert.same({ 0, 0 }, { perm.owner("nobody", read, false, function(m) warned = m end) })
    assert.equal('no user "nobody" in the image\'s /etc/passwd; using id 0', warned)
  end)
end)
