-- ocibuild in a root file system without locale files (a minimal image):
-- libarchive converts tar names through LC_CTYPE, which ocibuild pins to
-- C.UTF-8. Without it the program still runs, writes ASCII names byte for
-- byte as with it, takes the environment's UTF-8 locale when there is one,
-- and refuses a name that is not ASCII in one line. bubblewrap hides
-- /usr/lib/locale (a tmpfs over it); nothing else of the system changes.
local T = require "support"

local C_UTF8 = "/usr/lib/locale/C.utf8/LC_CTYPE"

local function missing()
  if T.sh("command -v bwrap") ~= 0 then return "bubblewrap is not installed (scripts/setup installs it)" end
  if not T.exists(C_UTF8) then return "this system has no C.UTF-8 locale to compare with" end
  if T.sh("bwrap --ro-bind / / --tmpfs /usr/lib/locale true") ~= 0 then
    return "bwrap cannot make a mount namespace here"
  end
end

-- Runs ocibuild with words in a view of / where /usr/lib/locale is empty
-- and only dir is writable; env is "NAME=VALUE ..." for `env` (LANG and
-- the LC_ variables are unset first).
local function without_locales(dir, env, ...)
  local words = {}
  for _, w in ipairs { ... } do words[#words + 1] = T.q(w) end
  return T.sh(("bwrap --ro-bind / / --tmpfs /usr/lib/locale --bind %s %s --dev /dev --proc /proc "
    .. "env -u LANG -u LC_ALL -u LC_CTYPE %s %s %s"):format(T.q(dir), T.q(dir), env or "", T.q(T.bin),
    table.concat(words, " ")))
end

local function digest_of(out) return assert(out:match("^(sha256:%x+)\n$"), out) end

-- ASCII only, with a path over 100 bytes (a pax header) and a symlink.
local function ascii_context(ctx)
  T.write(ctx .. "/plain.txt", "plain\n")
  T.write(ctx .. "/" .. ("d"):rep(120) .. "/long.txt", "long\n")
  T.must(("ln -s plain.txt %s/link"):format(T.q(ctx)))
end

describe("ocibuild without locale files", function()
  local why = missing()
  if why then
    pending(why)
    return
  end

  it("runs, and writes ASCII names byte for byte as with C.UTF-8", function()
    local d = T.tmpdir(finally)
    ascii_context(d .. "/ctx")
    local code, out, err = without_locales(d, nil, "--version")
    assert.equal(0, code, err)
    assert.equal("ocibuild 0.1.0\n", out)
    code, out, err = without_locales(d, nil, "--store", d .. "/bare", "build", d .. "/ctx", "-t", "a:1", "-q")
    assert.equal(0, code, out .. err)
    local bare = digest_of(out)
    code, out, err = T.ocibuild("--store", d .. "/full", "build", d .. "/ctx", "-t", "a:1", "-q")
    assert.equal(0, code, out .. err)
    assert.equal(digest_of(out), bare)
  end)

  it("refuses a name that is not ASCII in one line naming it, and tags nothing", function()
    local d = T.tmpdir(finally)
    ascii_context(d .. "/ctx")
    T.write(d .. "/ctx/caf\xc3\xa9.txt", "x\n")
    local code, out, err = without_locales(d, nil, "--store", d .. "/s", "build", d .. "/ctx", "-t", "a:1")
    assert.equal(1, code, out .. err)
    assert.equal(("ocibuild: LOCALE: a name that is not ASCII needs a UTF-8 locale (C.UTF-8), which this "
      .. "system lacks: %s/ctx/caf\xc3\xa9.txt\n"):format(d), err)
    local index = T.json(T.read(d .. "/s/index.json"))
    assert.same({}, index.manifests)
  end)

  it("takes the environment's UTF-8 locale when C.UTF-8 is missing, with the same digest", function()
    local d = T.tmpdir(finally)
    T.write(d .. "/ctx/caf\xc3\xa9.txt", "x\n")
    T.write(d .. "/ctx/d\xc3\xafr/" .. ("\xc3\xbc"):rep(60), "y\n")
    -- a locale of another name that only the environment points at
    T.must(("mkdir -p %s/loc/xx_XX.UTF-8 && cp %s %s/loc/xx_XX.UTF-8/"):format(T.q(d), C_UTF8, T.q(d)))
    local code, out, err = without_locales(d, "LOCPATH=" .. T.q(d .. "/loc") .. " LANG=xx_XX.UTF-8",
      "--store", d .. "/bare", "build", d .. "/ctx", "-t", "u:1", "-q")
    assert.equal(0, code, out .. err)
    local bare = digest_of(out)
    code, out, err = T.ocibuild("--store", d .. "/full", "build", d .. "/ctx", "-t", "u:1", "-q")
    assert.equal(0, code, out .. err)
    assert.equal(digest_of(out), bare)
    local names = {}
    for _, e in ipairs(T.tar_entries(T.image(d .. "/bare", "u:1").layers[1])) do names[#names + 1] = e.name end
    assert.same({ "caf\xc3\xa9.txt", "d\xc3\xafr", "d\xc3\xafr/" .. ("\xc3\xbc"):rep(60) }, names)
  end)
end)
