--- `ocibuild fsck`: checks a whole store and says what is wrong.
local fsck = require "ocibuild.store.fsck"
local getopt = require "ocibuild.cli.getopt"
local ops = require "ocibuild.ops"

local M = {}

M.HELP = [[
usage: ocibuild fsck

Checks the whole store without changing it: oci-layout, index.json
(read strictly), every blob each image reaches (present, its size, its
bytes against its digest), every manifest, index and config (parsed
strictly), and every other blob's bytes; each image is checked
completely, whatever it shares with others. Prints one line per problem,
naming the blob, its path and what is wrong (a corrupt blob with its
expected and actual digest), then a line for each image it breaks with
the repair: `ocibuild pull NAME` when the store records where the image
came from, else `ocibuild rm NAME...` (`ocibuild prune` for an image
without a name); then a summary. Exits 1 when anything is wrong. The
store is never created.
]]

local function plural(n, what) return ("%d %s%s"):format(n, what, n == 1 and "" or "s") end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, {}, "fsck")
  if not opts then return nil, rest, "USAGE" end
  if #rest > 0 then return getopt.usage_error("fsck takes no operands", "fsck") end
  local r, err, code = ops.fsck(g.ctx, {})
  if not r then return nil, err, code end
  for _, l in ipairs(fsck.lines(r)) do io.stdout:write(l, "\n") end
  io.stdout:write(("checked %s and %s (%d bytes); %s (%d bytes) no image reaches, %s\n"):format(
    plural(r.images, "image"), plural(r.blobs, "blob"), r.bytes, plural(r.unreferenced, "blob"),
    r.unreferenced_bytes, plural(r.temps, "abandoned temp file")))
  if #r.problems > 0 then
    return nil, ("%s in %s"):format(plural(#r.problems, "problem"), r.store), "BROKEN"
  end
  return true
end

return M
