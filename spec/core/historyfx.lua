--- A layer built after a history of edits, for the codec specs: a tree (a
-- large first file, medium files, a last small one) is built into a store
-- with a layer state, edited (at its start, in its middle and at its end,
-- insertions and deletions), built again, and so on, on 1 to 4 threads;
-- the final tree is then built with the reuse records and state that
-- history left (on 8, 2 and 3 threads, the last under another state), and
-- once more in a fresh store. Every one of those layers must be the same.
local core = require "ocibuild.core"
local luassert = require "luassert"
local T = require "support"

local M = {}

local MiB = 1024 * 1024

local text = T.text

local function put(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local EDITS = {
  function(ctx) put(ctx .. "/a/big", text(9 * MiB + 77, 9)) end, -- the large first file
  function(ctx) put(ctx .. "/m/f05", text(200000, 5)) end,
  function(ctx) put(ctx .. "/z/f99", text(100, 99)) end,
  function(ctx) put(ctx .. "/m/f00", "inserted first\n") end,
  function(ctx) put(ctx .. "/m/f10b", "inserted in the middle\n") end,
  function(ctx) os.remove(ctx .. "/m/f12") end,
  function(ctx) os.remove(ctx .. "/z/f99") end,
}

--- The layers (core.layer_job results) described above, for a codec kind
-- and level, built under dir.
function M.layers(dir, kind, level)
  local ctx = dir .. "/ctx"
  T.must(("mkdir -p %s/a %s/m %s/z"):format(T.q(ctx), T.q(ctx), T.q(ctx)))
  put(ctx .. "/a/big", text(9 * MiB, 1))
  for i = 1, 40 do put(("%s/m/f%02d"):format(ctx, i), text(90000 + i * 5000, i)) end
  put(ctx .. "/z/f99", text(3000, 3))
  local function build(store, jobs, state)
    local job = core.layer_job { root = ctx, store = store, reuse = true, state = state,
      policy = core.tar_policy { display = ctx },
      codec = core.codec { kind = kind, level = level, threads = jobs } }
    return assert(job:run())
  end
  local st = assert(core.store(dir .. "/hist", { create = true }))
  for i, edit in ipairs(EDITS) do
    build(st, 1 + i % 4, "s1")
    edit(ctx)
  end
  local out = { build(st, 8, "s1"), build(st, 2, "s1"), build(st, 3, "other") }
  out[#out + 1] = build(assert(core.store(dir .. "/fresh", { create = true })), 1)
  return out
end

--- Asserts that the layers of M.layers are one: the same digest and
-- diff_id, the second the first's blob again (nothing changed), the first
-- made with blocks of the history's.
function M.check(dir, kind, level)
  local layers = M.layers(dir, kind, level)
  for i = 2, #layers do
    luassert.equal(layers[1].digest, layers[i].digest, "build " .. i)
    luassert.equal(layers[1].diff_id, layers[i].diff_id, "build " .. i)
  end
  luassert.is_true(layers[2].whole) -- built again unchanged: the same blob
  luassert.is_true(layers[1].reused > 0)
end

return M
