--- run: a build script run, sandboxed unless `unsafe`; the image it
-- returns (else the last one it saved) is the result, also written as an
-- OCI archive when `output` names one. A script is calls of the API, each
-- of which is a verb again (its builds, pushes and archives send their
-- own events): what runs it (ocibuild.api.script.run) comes from the tier
-- above, as the context's `scripts`, so that ops never requires the API.
local archive = require "ocibuild.endpoint.archive"
local env = require "ocibuild.util.env"
local save = require "ocibuild.build.save"
local store_mod = require "ocibuild.store"

local M = {}

--- args: file (the script), args (its `args` table), unsafe, output (an
-- OCI archive of the image reported), max_instructions, max_memory,
-- allow_registry, allow_image, env (see ocibuild.ops.reach), attest (the
-- sbom, provenance and sign of every save that does not say).
M.OPTIONS = { "file", "args", "unsafe", "output", "max_instructions", "max_memory", "allow_registry",
  "allow_image", "env", "attest" }

-- Writes the image r (a save result) of the store as an OCI archive.
local function write_archive(ctx, r, out)
  local sde, err, code = env.source_date_epoch()
  if err then return nil, err, code end
  out.mtime = sde or 0
  local st
  st, err, code = store_mod.open(r.path)
  if not st then return nil, err, code end
  local hold <close>, herr, hcode = st:use()
  if not hold then return nil, herr, hcode end
  return save.write_archive(st, r.manifest, r.tags, out, ctx:sink())
end

--- Runs. Returns {value= (the script's first result), image= (the save
-- result reported, or nil), saves= (every save result)}, or nil, msg,
-- code (SCRIPT: the script failed, "FILE:LINE: message").
function M.run(ctx, a)
  local err, code
  if type(a.file) ~= "string" then return nil, "run needs a build script", "BADVALUE" end
  local out
  if a.output ~= nil then
    local dest
    dest, err, code = ctx:path(a.output, "output")
    if not dest then return nil, err, code end
    out, err, code = archive.new(dest)
    if not out then return nil, "--output: " .. err, code end
  end
  if not ctx.scripts then return nil, "this context runs no build scripts", "ENOTSUP" end
  local r
  r, err, code = ctx.scripts(a.file, a.args or {}, { store = ctx.store,
    registry = ctx.registry, cache = ctx.cache, warn = ctx.warn, on_event = ctx.on_event, unsafe = a.unsafe,
    max_instructions = a.max_instructions, max_memory = a.max_memory, allow_registry = a.allow_registry,
    allow_image = a.allow_image, env = a.env, attest = a.attest })
  if not r then return nil, err, code or "SCRIPT" end
  if out and not r.image then
    return nil, ("%s: the script saved no image to report"):format(a.file), "NOIMAGE"
  end
  if out then
    local ok
    ok, err, code = write_archive(ctx, r.image, out)
    if not ok then return nil, err, code end
    r.image.archive = out.dest
  end
  return r
end

return M
