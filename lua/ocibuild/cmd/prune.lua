--- `ocibuild prune`: removes what no name reaches from the store.
local fsck = require "ocibuild.store.fsck"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"
local output = require "ocibuild.cli.output"

local M = {}

M.HELP = [[
usage: ocibuild prune [--dry-run] [--all] [--verify]

Removes from the store the images without a name (<none>), then the blobs
no named image reaches, the temp files of builds and imports that were
killed, and the reuse records and layer states of blobs that are gone. Waits for builds and
imports in progress. If any image's manifest cannot be read, nothing is
removed.

  --dry-run   remove nothing; list what would go, with sizes
  --all       also drop every reuse record (the next build of each layer
              compresses everything again)
  --verify    check the whole store first (as `ocibuild fsck`) and remove
              nothing when a problem is found
]]

M.SPEC = { ["dry-run"] = "flag", all = "flag", verify = "flag" }

local function plural(n, what) return ("%d %s%s"):format(n, what, n == 1 and "" or "s") end

-- "1 byte", "512 bytes", "6832 bytes, 6.7 KiB": the count, and beside it
-- the size for people once it is past a kibibyte.
local function bytes(n)
  if n < 1024 then return plural(n, "byte") end
  return ("%d bytes, %s"):format(n, output.human(n))
end

--- Runs prune for the command `name` (prune, or its alias gc).
function M.main(argv, g, name)
  local opts, rest = getopt.parse(argv, M.SPEC, name)
  if not opts then return nil, rest, "USAGE" end
  if #rest > 0 then return getopt.usage_error(name .. " takes no operands", name) end
  local stats, err, code, report = ops.prune(g.ctx, { dry_run = opts["dry-run"], all = opts.all,
    verify = opts.verify })
  if not stats then
    for _, l in ipairs(report and fsck.lines(report) or {}) do io.stdout:write(l, "\n") end
    return nil, err, code
  end
  local out = io.stdout
  if opts["dry-run"] then
    for _, d in ipairs(stats.untagged) do out:write(("would remove image %s (untagged)\n"):format(d.digest)) end
    for _, d in ipairs(stats.removed) do out:write(("would remove blob %s (%s)\n"):format(d, bytes(stats.sizes[d]))) end
    out:write(("would remove %s, %s (%s) and %s (%s)\n"):format(plural(stats.images, "untagged image"),
      plural(stats.blobs, "blob"), bytes(stats.bytes), plural(stats.temps, "temp file"), bytes(stats.temp_bytes)))
    return true
  end
  out:write(("removed %s, %s (%s), %s (%s), %s and %s\n"):format(
    plural(stats.images, "untagged image"), plural(stats.blobs, "blob"), bytes(stats.bytes),
    plural(stats.temps, "temp file"), bytes(stats.temp_bytes), plural(stats.records, "reuse record"),
    plural(stats.states, "layer state")))
  return true
end

function M.run(argv, g) return M.main(argv, g, "prune") end

return M
