--- A registry repository as a place whose images are signed and verified
-- (see ocibuild.attest.place). Signatures live in the manifest tagged
-- sha256-<hex>.sig, which every signer rewrites: registries take no
-- conditional PUT, so two signers at once can each write a list that
-- lacks the other's signature. So a signer first writes its signature
-- alone under a tag of its own, sha256-<hex>.sig.<id> (see
-- simplesign.own_tag), that nobody overwrites; then, until the .sig tag
-- holds its signature and every signature under such a tag: reads the
-- .sig tag, lists those tags, and writes the union. Whoever writes the
-- .sig tag last reads it and lists the tags after that write, and any
-- signer that has finished wrote its own tag before that listing: the
-- last writer finds its signature and writes again if it is missing. A
-- signer that stopped halfway still has its own tag: verify reads those
-- too, and the next signer merges it. The one signer that writes no own
-- tag is the one that creates the .sig tag of an image this process put
-- into the registry just now (a build's or push's own, `fresh`): no other
-- signer knows that digest yet, and every later list starts from its.
local core = require "ocibuild.core"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local registry = require "ocibuild.registry"
local simplesign = require "ocibuild.attest.simplesign"

local M = {}
local Place = {}
Place.__index = Place

M.ATTEMPTS = 8
M.MAX_OWN = 1000 -- signers' own tags read at most (one manifest request each)

--- The place `reference` names. opts: {registry= (the client's options),
-- write= (true: push access)}.
function M.open(reference, opts)
  local repo, r, code = registry.repository(reference, opts.registry, opts.write and "push" or "pull")
  if not repo then return nil, r, code end
  local desc, body
  desc, body, code = repo:get_manifest(r.digest or r.tag)
  if not desc then
    repo.client:close()
    return nil, body, code
  end
  local self = setmetatable({ kind = "registry", repo = repo, name = r.name, identity = r.name, desc = desc,
    docs = { [desc.digest] = body } }, Place)
  return self
end

--- The place of the image desc (its manifest bytes text) a push just
-- put into the repository repo (ocibuild.registry.repo) that r names,
-- over the push's own connection (closed with the place).
function M.pushed(repo, r, desc, text)
  return setmetatable({ kind = "registry", repo = repo, name = r.name, identity = r.name, desc = desc,
    docs = { [desc.digest] = text } }, Place)
end

function Place:close()
  self.repo.client:close()
end

--- Runs tasks (functions returning true or nil, msg, code) side by side
-- over the place's connection.
function Place:parallel(tasks)
  return self.repo.client:run(tasks)
end

function Place:where(digest)
  return self.name .. "@" .. digest
end

function Place:get_json(desc)
  local text = self.docs[desc.digest]
  if text then return text end
  local got, body, code = self.repo:get_manifest(desc.digest)
  if not got then return nil, body, code end
  self.docs[desc.digest] = body
  return body
end

function Place:get_blob(desc, max)
  return self.repo:get_blob_bytes(desc, max)
end

-- The signature manifest of digest: {desc=, text=, manifest=}, false
-- when there is none, or nil, msg, code.
local function read_sigs(self, digest, tag)
  tag = tag or simplesign.tag(digest)
  local desc, text, code = self.repo:get_manifest(tag)
  if not desc then
    if code == "HTTP404" then return false end
    return nil, text, code
  end
  local m, err
  m, err, code = simplesign.read_manifest(text, self.name .. ":" .. tag)
  if not m then return nil, err, code end
  return { desc = desc, text = text, manifest = m, name = self.name .. ":" .. tag }
end

local function holds(layers, l)
  for _, x in ipairs(layers) do
    if simplesign.same(x, l) then return true end
  end
  return false
end

-- The signers' own signature manifests of digest whose layers the .sig
-- manifest cur (or false) does not hold, but for layer mine's (if given):
-- [{sig=, layer=}].
local function unmerged(self, digest, cur, mine)
  local base = simplesign.tag(digest)
  local tags, err, code = self.repo:tags(base .. ".", base)
  if not tags then return nil, err, code end
  if #tags > M.MAX_OWN then
    return nil, ("%s has %d signature tags %s.*, more than the %d read"):format(self.name, #tags, base, M.MAX_OWN),
      "TOOBIG"
  end
  local merged, out = {}, {}
  for _, l in ipairs(cur and cur.manifest.layers or {}) do merged[simplesign.own_tag(digest, l)] = true end
  if mine then merged[simplesign.own_tag(digest, mine)] = true end
  for _, tag in ipairs(tags) do
    local own = not merged[tag]
    if own then
      own, err, code = read_sigs(self, digest, tag)
      if own == nil and code ~= "BADDOC" then return nil, err, code end
    end
    for _, l in ipairs(own and own.manifest.layers or {}) do
      -- a layer filed under its own id only: not one copied from elsewhere
      if simplesign.own_tag(digest, l) == tag then
        out[#out + 1] = { sig = own, layer = l }
        break
      end
    end
  end
  return out
end

--- The signature manifests found for digest (none, or the one tagged).
function Place:signatures(digest)
  local s, err, code = read_sigs(self, digest)
  if s == nil then return nil, err, code end
  return s and { s } or {}
end

--- The signers' own signature manifests of digest that the .sig one
-- (sigs[1], as signatures returned it) does not hold.
function Place:own_signatures(digest, sigs)
  local rest, err, code = unmerged(self, digest, sigs[1] or false)
  if not rest then return nil, err, code end
  local out = {}
  for i, u in ipairs(rest) do out[i] = u.sig end
  return out
end

-- The blobs of a plan, uploaded unless the registry has them (with
-- blind: uploaded without asking).
local function put_blobs(self, blobs, blind)
  for _, b in ipairs(blobs) do
    local have, err, code = false, nil, nil
    if not blind then have, err, code = self.repo:has_blob(b.desc) end
    if have == nil then return nil, err, code end
    if not have then
      local ok
      ok, err, code = self.repo:put_blob_bytes(b.desc, b.bytes)
      if not ok then return nil, err, code end
    end
  end
  return true
end

-- Writes the signature manifest of layers under tag (its config first).
-- false, why when the registry refused it for now: a registry may refuse
-- a manifest while another signer uploads the same payload blob (the
-- payloads of one image are the same bytes): distribution reads the
-- blob's half-written link as a bad digest.
local function put_sigs(self, tag, layers, blind)
  local text, config, cdesc = simplesign.manifest(layers)
  local ok, err, code = put_blobs(self, { { desc = cdesc, bytes = config } }, blind)
  if not ok then return nil, err, code end
  ok, err, code = self.repo:put_manifest(tag, text, media.MANIFEST, (core.sha256():update(text):digest()))
  if not ok and (code == "HTTP400" or code == "HTTP404") then return false, err, code end
  return ok, err, code
end

-- One round, from the .sig manifest cur (or false; nil: read it): true
-- (it holds ours and every own one), false (it was written again: another
-- round, with why), or nil, msg, code.
local function round(self, digest, plan, cur)
  local err, code, rest
  if cur == nil then
    cur, err, code = read_sigs(self, digest)
    if cur == nil then return nil, err, code end
  end
  rest, err, code = unmerged(self, digest, cur, plan.layer)
  if not rest then return nil, err, code end
  local layers = json.array {}
  for i, l in ipairs(cur and cur.manifest.layers or {}) do layers[i] = l end
  local ours = cur and plan.kept(cur.manifest)
  if ours and #rest == 0 then return true end
  for _, u in ipairs(rest) do
    if not holds(layers, u.layer) then layers[#layers + 1] = u.layer end
  end
  if not ours then layers[#layers + 1] = plan.layer end
  local ok
  ok, err, code = put_sigs(self, simplesign.tag(digest), layers)
  if ok == nil then return nil, err, code end
  return false, err, code
end

--- Appends to the signatures of digest: build(manifest or nil) returns a
-- plan {blobs={ {desc=, bytes=} } (the first: the payload), layer= (the
-- signature's), kept=fn(manifest) (true when it holds that signature)}
-- or nil when nothing is to be done. opts: {fresh= (see above)}. Returns "signed" or "present".
function Place:append(digest, build, opts)
  local cur, err, code = read_sigs(self, digest)
  if cur == nil then return nil, err, code end
  local plan = build(cur and cur.manifest)
  if not plan then return "present" end
  local alone = opts and opts.fresh and not cur
  local ok
  ok, err, code = put_blobs(self, { plan.blobs[1] }, alone)
  if not ok then return nil, err, code end
  if alone then
    ok, err, code = put_sigs(self, simplesign.tag(digest), json.array { plan.layer }, true)
    if ok then return "signed" end
    if ok == nil then return nil, err, code end
  else
    -- the signature alone, under its own tag, first
    for i = 1, M.ATTEMPTS do
      ok, err, code = put_sigs(self, simplesign.own_tag(digest, plan.layer), json.array { plan.layer })
      if ok ~= false then break end
      self.repo.client:sleep(0.05 * i + math.random() * 0.1)
    end
    if not ok then return nil, err, code end
  end
  for i = 1, M.ATTEMPTS do
    ok, err, code = round(self, digest, plan, i == 1 and cur or nil)
    if ok then return "signed" end
    if ok == nil then return nil, err, code end
    -- written again (by us or another signer): a moment, different each time
    if i > 1 then self.repo.client:sleep(0.05 * i + math.random() * 0.1) end
  end
  return nil, ("the signatures of %s kept changing while they were written (%d rounds): sign again (%s)"):format(
    self:where(digest), M.ATTEMPTS, err or "the .sig tag was written again each time"), "CHANGED"
end

return M
