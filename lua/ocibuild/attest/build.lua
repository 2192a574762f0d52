--- A build's attestations and signatures (save's sbom=, provenance=,
-- sign=; the CLI's --sbom, --provenance, --sign-key): the options checked
-- and the key read before any work; the catalog settings the layer jobs
-- learn each layer's contents with (ocibuild.attest.catalog) and each
-- base layer read once; after the build, per platform image an SBOM
-- (SPDX 2.3, or CycloneDX 1.5) and SLSA v1 provenance as in-toto
-- statements, attached as BuildKit attaches them (ocibuild.attest.attach:
-- a single image becomes an index); once the tags move, the image and
-- its platform images (with sign.attest, the attestation manifests too)
-- signed in the store, and after each push, where it went. With
-- SOURCE_DATE_EPOCH the attestations are the same bytes on every build.
-- Functions return nil, msg, code on failure.
local attach = require "ocibuild.attest.attach"
local catalog = require "ocibuild.attest.catalog"
local json = require "ocibuild.oci.json"
local version = require "ocibuild.util.version"

local M = {}

M.OPTIONS = { "sbom", "provenance", "sign" }
M.FORMATS = { spdx = "ocibuild.attest.sbom.spdx", cyclonedx = "ocibuild.attest.sbom.cyclonedx" }

local function show(v) return type(v) == "string" and ("%q"):format(v) or tostring(v) end

local function check_sbom(v)
  if v == nil or v == false then return nil end
  if v == true then return { format = "spdx", files = false } end
  if type(v) == "string" then v = { format = v } end
  if type(v) ~= "table" then
    return nil, "sbom must be true, \"spdx\", \"cyclonedx\" or { format =, files = }", "BADVALUE"
  end
  for k in pairs(v) do
    if k ~= "format" and k ~= "files" then return nil, ("sbom: unknown option %s"):format(show(k)), "BADVALUE" end
  end
  local format = v.format or "spdx"
  if not M.FORMATS[format] then
    return nil, ("sbom format must be spdx or cyclonedx, got %s"):format(show(format)), "BADVALUE"
  end
  if v.files ~= nil and type(v.files) ~= "boolean" then
    return nil, "sbom files must be true or false", "BADVALUE"
  end
  return { format = format, files = v.files or false }
end

local function check_sign(v)
  if v == nil or v == false then return nil end
  if type(v) ~= "table" or type(v.key) ~= "string" or v.key == "" then
    return nil, "sign needs { key = <private key file> }", "BADVALUE"
  end
  for k in pairs(v) do
    if k ~= "key" and k ~= "attest" then return nil, ("sign: unknown option %s"):format(show(k)), "BADVALUE" end
  end
  if v.attest ~= nil and type(v.attest) ~= "boolean" then
    return nil, "sign attest must be true or false", "BADVALUE"
  end
  return { key = v.key, attest = v.attest or false }
end

--- Checks a save's sbom, provenance and sign options (sbom: true,
-- "spdx", "cyclonedx" or {format=, files=}; provenance: true; sign:
-- {key= (a private key file), attest= (the attestations too)}). Returns
-- the spec {sbom= {format=, files=} or nil, provenance=, sign= {key=,
-- attest=} or nil}, or false when none is asked, or nil, msg, "BADVALUE".
function M.check(opts)
  local sbom, err, code = check_sbom(opts.sbom)
  if err then return nil, err, code end
  if opts.provenance ~= nil and type(opts.provenance) ~= "boolean" then
    return nil, "provenance must be true or false", "BADVALUE"
  end
  local sign
  sign, err, code = check_sign(opts.sign)
  if err then return nil, err, code end
  if sign and sign.attest and not (sbom or opts.provenance) then
    return nil, "sign attest = true signs the attestations: ask for sbom or provenance too", "BADVALUE"
  end
  if not sbom and not opts.provenance and not sign then return false end
  return { sbom = sbom, provenance = opts.provenance or false, sign = sign }
end

--- Reads spec's signing key (before any work, so that a wrong passphrase
-- fails first). Returns true.
function M.load_key(spec)
  if not spec or not spec.sign or spec.sign.loaded then return true end
  local key, err, code = require("ocibuild.attest.keys").load_private(spec.sign.key)
  if not key then return nil, err, code end
  spec.sign.loaded = key
  return true
end

--- The ctx.attest of the build (nil without an SBOM: nothing is learnt
-- from the layers).
function M.context(spec)
  if not spec or not spec.sbom then return nil end
  local s, err, code = catalog.settings(spec.sbom.files)
  if not s then return nil, err, code end
  return { settings = s }
end

--- The analyses of the layers of base b (b.analyses), each from the
-- store's note or one read of its blob (which verifies it, and gives the
-- build its entries: the blob is read once).
function M.base(b, st, actx)
  if b.analyses then return true end
  local list = {}
  for i, l in ipairs(b.layers) do
    local diff_id = b.config.rootfs.diff_ids[i]
    local a, read, code = catalog.blob(st, l, actx.settings, diff_id)
    if not a then return nil, ("base image %s: layer %d: %s"):format(b.from, i, read), code end
    if read then
      -- what the build's view of the base needs, from the same read
      b.verified[l.digest] = true
      local ok, err, rcode = require("ocibuild.build.base").remember(st, l, catalog.entries(a.records), diff_id,
        ("base image %s: layer %d (%s)"):format(b.from, i, l.digest))
      if not ok then return nil, err, rcode end
    end
    list[i] = a
  end
  b.analyses = list
  return true
end

-- The repository, tag and name an SBOM gives the image: the first tag's.
local function naming(info)
  local r = info.tags and info.tags[1]
  if not r then return {} end
  return { repository = r.name, tag = r.tag, name = r.familiar }
end

local function sbom_statement(r, spec, info, subject)
  local layers = {}
  for _, a in ipairs(r.base and r.base.analyses or {}) do layers[#layers + 1] = a end
  for _, l in ipairs(r.layers) do layers[#layers + 1] = l.analysis end
  local found = catalog.packages(layers)
  local writer = require(M.FORMATS[spec.sbom.format])
  local n = naming(info)
  local predicate = writer.build { image = { name = n.name, digest = r.desc.digest, purl = subject.name },
    packages = found.packages, files = spec.sbom.files and catalog.files(layers) or nil,
    tool = "ocibuild-" .. version, epoch = info.epoch, now = info.started }
  return { type = writer.PREDICATE_TYPE, predicate = predicate, warnings = found.warnings }
end

local function bases_of(r)
  local out = {}
  for _, b in ipairs(r.bases or {}) do
    local ref = require("ocibuild.oci.ref").parse(b.from)
    local reg = ref and require("ocibuild.oci.ref").names_registry(b.from)
    out[#out + 1] = { ref = b.from, digest = b.digest, repository = reg and ref.name or nil,
      tag = reg and ref.tag or nil }
  end
  return out
end

local function provenance_statement(r, info)
  local provenance = require "ocibuild.attest.provenance"
  local def = info.definition or {}
  local git = def.context and require("ocibuild.attest.git").info(def.context)
  local plat = r.platform and require("ocibuild.oci.platform").format(r.platform)
  local predicate = provenance.predicate { version = version, definition = def, args = def.args,
    target = def.target, platforms = { plat }, bases = bases_of(r), context = { git = git },
    started = info.started, finished = info.finished, epoch = info.epoch }
  return { type = provenance.PREDICATE_TYPE, predicate = predicate }
end

--- Attaches the attestations spec asks for to what was built into st
-- (built: an image's or an index's result, see ocibuild.build.image and
-- ocibuild.build.index). info: {tags= (parsed), definition= {kind=,
-- path=, digest=, args=, target=, context=}, started=, finished=, epoch=
-- (SOURCE_DATE_EPOCH)}; blobs added are listed in created. Returns
-- built with desc (the index), image_id, size and attestations= { {image=
-- (digest), attestation= (digest)} } set, and warnings= (what the
-- detectors could not read).
function M.attach(st, built, spec, info, created)
  if not spec.sbom and not spec.provenance then return built end
  local purl = require "ocibuild.attest.purl"
  local intoto = require "ocibuild.attest.intoto"
  local images = built.images or { built }
  local entries, warnings, added = {}, {}, 0
  local n = naming(info)
  built.attestations = {}
  for _, r in ipairs(images) do
    local subject = { name = purl.oci(n.repository, r.desc.digest,
      { tag = n.tag, arch = r.platform and r.platform.architecture }), digest = r.desc.digest }
    local made = {}
    if spec.sbom then made[#made + 1] = sbom_statement(r, spec, info, subject) end
    if spec.provenance then made[#made + 1] = provenance_statement(r, info) end
    local statements = {}
    for i, m in ipairs(made) do
      statements[i] = { type = m.type, bytes = intoto.encode({ subject }, m.type, json.encode(m.predicate)) }
      added = added + #statements[i].bytes
      for _, w in ipairs(m.warnings or {}) do warnings[#warnings + 1] = w end
    end
    local e, err, code = attach.manifest(st, r.desc, statements, created)
    if not e then return nil, err, code end
    entries[#entries + 1] = e
    built.attestations[#built.attestations + 1] = { image = r.desc.digest, attestation = e.digest }
  end
  local desc, err, code = attach.index(st, built, entries, created)
  if not desc then return nil, err, code end
  for _, e in ipairs(entries) do added = added + e.size end
  built.images = built.images or { { desc = built.desc, image_id = built.image_id, size = built.size,
    platform = built.platform } }
  built.desc, built.image_id, built.size = desc, desc.digest, built.size + desc.size + added
  built.warnings = warnings
  return built
end

--- Signs desc in the store st under each repository of tags (parsed
-- references): the index, its platform images and, with spec.sign.attest,
-- its attestation manifests. Returns the results (see
-- ocibuild.attest.sign.run).
function M.sign_store(st, desc, tags, spec)
  local layout = require "ocibuild.attest.place.layout"
  local sign = require "ocibuild.attest.sign"
  local out, done = {}, {}
  for _, r in ipairs(tags) do
    if not done[r.name] then
      done[r.name] = true
      local place, err, code = layout.open { store = function() return st end, image = r.familiar }
      if not place then return nil, err, code end
      place.desc, place.identity = desc, r.name
      local list
      list, err, code = sign.run(place, spec.sign.loaded, { recursive = true, attestations = spec.sign.attest,
        creator = "ocibuild " .. version })
      if not list then return nil, err, code end
      for _, x in ipairs(list) do out[#out + 1] = x end
    end
  end
  return out
end

--- Signs the image a push put at p (the push's result: {reference=,
-- fresh=, and with the push's keep: repo=, ref=, desc=}) there, as
-- M.sign_store does; st: the store it was pushed from. opts: the
-- registry options.
function M.sign_pushed(p, spec, opts, st)
  local place_mod = require "ocibuild.attest.place.registry"
  local sign = require "ocibuild.attest.sign"
  local place, err, code
  local text = p.repo and st and st:get_json(p.desc.digest)
  if text then
    place = place_mod.pushed(p.repo, p.ref, p.desc, text)
  else
    if p.repo then p.repo.client:close() end
    place, err, code = place_mod.open(p.reference, { registry = opts, write = true })
    if not place then return nil, err, code end
  end
  local list
  list, err, code = sign.run(place, spec.sign.loaded, { recursive = true, attestations = spec.sign.attest,
    creator = "ocibuild " .. version, fresh = p.fresh })
  place:close()
  if not list then return nil, err, code end
  return list
end

return M
