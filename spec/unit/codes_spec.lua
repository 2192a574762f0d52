-- The error contract, enforced: every failure return of ocibuild's Lua
-- carries a code (`nil, msg, code`), every code written out is one
-- ocibuild.util.codes lists, and the CLI's exit table speaks of listed
-- codes only.
local T = require "support"
local R = require "support.returns"
local cli = require "ocibuild.cli"
local codes = require "ocibuild.util.codes"

-- Every Lua file of ocibuild, with its text.
local function sources()
  local list = {}
  for file in T.must("cd " .. T.q(T.root) .. " && find lua/ocibuild -name '*.lua' | LC_ALL=C sort"):gmatch("[^\n]+") do
    list[#list + 1] = { file = file, text = T.read(T.root .. "/" .. file) }
  end
  return list
end

describe("ocibuild.util.codes", function()
  local all = sources()

  it("every `return nil, msg` carries a code", function()
    local missing = {}
    for _, s in ipairs(all) do
      local lines = {}
      for l in (s.text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
      for _, f in ipairs(R.failures(s.text)) do
        local second = f.values[2]
        local inner = #second == 1 and second[1].text == "nil" -- nil, nil, msg: a function's own triple
        -- a `return nil, x` that is no failure says so on its line
        local said = lines[f.line]:find("-- not a failure", 1, true)
        if #f.values < 3 and not inner and not said and not R.multiple(second) then
          missing[#missing + 1] = ("%s:%d"):format(s.file, f.line)
        end
      end
    end
    assert.same({}, missing)
  end)

  it("every code written out is listed", function()
    local unknown = {}
    for _, s in ipairs(all) do
      for _, f in ipairs(R.failures(s.text)) do
        local third = f.values[3]
        local first = third and third[1]
        -- a literal, or a literal followed by `..` (HTTP .. status)
        if first and first.kind == "string" and #f.values[2] > 0 and f.values[2][1].text ~= "nil" then
          local code = first.text:sub(2, -2)
          if third[2] and third[2].text == ".." then code = code .. "200" end
          if not codes.known(code) then unknown[#unknown + 1] = ("%s:%d: %s"):format(s.file, f.line, code) end
        end
      end
    end
    assert.same({}, unknown)
  end)

  it("knows errno names and registry answers, and nothing else", function()
    assert.is_true(codes.known("ENOENT"))
    assert.is_true(codes.known("HTTP404"))
    assert.is_true(codes.known("BADREF"))
    assert.is_true(codes.known("CHANGED"))
    assert.is_false(codes.known("ENOPLATFORM_"))
    assert.is_false(codes.known("NOPE"))
    assert.is_false(codes.known(2))
  end)

  it("has one name per failure: NOPLATFORM, never ENOPLATFORM", function()
    for _, s in ipairs(all) do assert.is_nil(s.text:find("ENOPLATFORM", 1, true), s.file) end
  end)

  it("gives the CLI's exit table listed codes only: usage mistakes exit 2, the rest 1", function()
    for code, status in pairs(cli.EXIT) do
      assert.is_true(codes.known(code), code)
      assert.equal(2, status, code)
    end
    assert.equal(2, cli.status("USAGE"))
    assert.equal(2, cli.status("BADREF"))
    assert.equal(1, cli.status("ENOENT"))
    assert.equal(1, cli.status("BROKEN"))
  end)
end)
