--- `ocibuild images [REPO]`: the images of the store, one row per name.
local digest = require "ocibuild.oci.digest"
local getopt = require "ocibuild.cli.getopt"
local images = require "ocibuild.store.images"
local json = require "ocibuild.oci.json"
local ops = require "ocibuild.ops"
local output = require "ocibuild.cli.output"
local show = require "ocibuild.cli.show"

local M = {}

M.HELP = [=[
usage: ocibuild images [REPO[:TAG]] [--digests] [-q] [--format table|json]

Lists the images in the store, one row per name, sorted by name then tag;
images without a name (a build without -t, an unnamed import) show as
<none> until `ocibuild prune`. Columns: repository, tag, image ID (the
config digest; a multi-platform index's own digest), manifest digest,
platforms, size (all blobs, compressed), created.

  REPO[:TAG]       only the images named in that repository (and tag)
  --digests        full digests instead of short ones
  -q, --quiet      image IDs only, each once
  --format json    one JSON object per image and line, keys: created,
                   digest, error, id, mediaType, names (full), platforms,
                   size, tags (familiar); full digests

An image whose blobs cannot be read is listed with what is known, named
on standard error, and makes the command exit 1 (see `ocibuild fsck`).
The store is never created.
]=]

local SPEC = { digests = "flag", quiet = "flag", format = "value", alias = { q = "quiet" } }

local function split(r)
  if not r.tag then return r.familiar:match("^[^@]*"), "<none>" end
  return r.familiar:sub(1, #r.familiar - #r.tag - 1), r.tag
end

local function rows_of(list, full)
  local function id(d) return full and d or digest.short(d) end
  local function dg(d) return full and d or d:sub(1, 19) end
  local named, unnamed = {}, {}
  for _, im in ipairs(list) do
    local info = im.info or {}
    local cells = { id(info.id or im.digest), dg(im.digest),
      info.platforms and (#info.platforms > 0 and table.concat(info.platforms, ",") or "-") or "?",
      info.size and output.human(info.size) or "?", im.error and "damaged" or show.age(info.created) }
    if #im.refs == 0 then
      unnamed[#unnamed + 1] = { "<none>", "<none>", table.unpack(cells) }
    end
    for _, r in ipairs(im.refs) do
      local repo, tag = split(r)
      named[#named + 1] = { repo, tag, table.unpack(cells) }
    end
  end
  table.sort(named, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  table.sort(unnamed, function(a, b) return a[3] < b[3] end)
  local rows = { { "REPOSITORY", "TAG", "IMAGE ID", "DIGEST", "PLATFORM", "SIZE", "CREATED" } }
  table.move(named, 1, #named, 2, rows)
  table.move(unnamed, 1, #unnamed, #rows + 1, rows)
  return rows
end

function M.run(argv, g)
  local opts, rest = getopt.parse(argv, SPEC, "images")
  if not opts then return nil, rest, "USAGE" end
  if #rest > 1 then return getopt.usage_error("images takes at most one repository", "images") end
  local format = opts.format or "table"
  if format ~= "table" and format ~= "json" then
    return getopt.usage_error(("--format must be table or json, got %q"):format(format), "images")
  end
  local list, err, code = ops.images(g.ctx, { repo = rest[1] })
  if not list then return nil, err, code end
  local out = io.stdout
  if opts.quiet then
    local seen = {}
    for _, row in ipairs(rows_of(list, true)) do
      if row[3] ~= "IMAGE ID" and not seen[row[3]] then
        seen[row[3]] = true
        out:write(opts.digests and row[3] or digest.short(row[3]), "\n")
      end
    end
  elseif format == "json" then
    for _, im in ipairs(list) do out:write(json.encode(images.object(im)), "\n") end
  else
    out:write(show.table(rows_of(list, opts.digests)))
  end
  local damaged = 0
  for _, im in ipairs(list) do
    if im.error then
      damaged = damaged + 1
      io.stderr:write("ocibuild: ", im.error, "\n")
    end
  end
  if damaged > 0 then
    return nil, ("%d image%s could not be read (see 'ocibuild fsck')"):format(damaged, damaged == 1 and "" or "s"),
      "BROKEN"
  end
  return true
end

return M
