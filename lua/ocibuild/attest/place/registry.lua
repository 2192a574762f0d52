--- A registry repository as a place whose images are signed and verified
-- (see ocibuild.attest.place). Signatures live in the manifest tagged
-- sha256-<hex>.sig. Registries take no conditional PUT, so an append is
-- read, append, write with the tag's digest checked: the tag must still
-- name what was read just before the PUT, and after the PUT the new
-- signature must be there, and still be there a moment later (when a
-- signer that read the tag before this PUT has written too); otherwise
-- the whole is done again (a bounded number of times), so that signers
-- at once keep each other's signatures. A signer whose HEAD took more than
-- half that moment does not PUT but starts again. Without conditional
-- requests in the protocol this rests on time: a PUT that the registry
-- itself holds for longer than that moment can still replace the tag. The
-- moment is not waited for when nobody else can have been signing: the
-- signer creates the tag (none was there) for an image this process put
-- into the registry just now (a build's or push's own, `fresh`), whose
-- digest another signer could only know by building the same bytes at
-- the same time.
local registry = require "ocibuild.registry"
local simplesign = require "ocibuild.attest.simplesign"

local M = {}
local Place = {}
Place.__index = Place

M.ATTEMPTS = 6
-- Seconds (plus four times this signer's own HEAD-to-PUT time) after
-- which a signature written must still be there.
M.SETTLE = 0.2

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
local function read_sigs(self, digest)
  local tag = simplesign.tag(digest)
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

--- The signature manifests found for digest (none, or the one tagged).
function Place:signatures(digest)
  local s, err, code = read_sigs(self, digest)
  if s == nil then return nil, err, code end
  return s and { s } or {}
end

-- The blobs of a plan, uploaded unless the registry has them (with
-- blind: uploaded without asking).
local function put_blobs(self, plan, blind)
  for _, b in ipairs(plan.blobs) do
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

local function has_ours(self, digest, plan)
  local now, err, code = read_sigs(self, digest)
  if now == nil then return nil, err, code end
  return now ~= false and plan.kept(now.manifest)
end

-- One attempt: true (done), false (the tag moved, or the registry refused
-- the manifest for now: again, with why), or nil, msg, code.
local function attempt(self, digest, build, fresh)
  local cur, err, code = read_sigs(self, digest)
  if cur == nil then return nil, err, code end
  local plan = build(cur and cur.manifest)
  if not plan then return true, "present" end
  -- the first signature of an image this process just pushed: nobody
  -- else knows its digest, so nobody else uploads or writes (see above)
  local alone = fresh and not cur
  local ok
  ok, err, code = put_blobs(self, plan, alone)
  if not ok then return nil, err, code end
  local tag, t0 = simplesign.tag(digest), self.repo.client:now()
  if not alone then
    local now
    now, err, code = self.repo:head_manifest(tag)
    if now == nil then return nil, err, code end
    if now ~= (cur and cur.desc.digest or false) then return false end
    -- a signer held up between its HEAD and its PUT for longer than the
    -- others wait could replace a signature they took as written: it
    -- looks again instead
    if self.repo.client:now() - t0 > M.SETTLE / 2 then return false end
  end
  ok, err, code = self.repo:put_manifest(tag, plan.text, plan.desc.mediaType, plan.desc.digest)
  -- A registry may refuse a manifest while another signer uploads the
  -- same payload blob (the payloads of one image are the same bytes):
  -- distribution reads the blob's half-written link as a bad digest.
  if not ok and (code == "HTTP400" or code == "HTTP404") then return false, err, code end
  if not ok then return nil, err, code end
  -- Another signer that read the tag before this PUT may still PUT after
  -- it: look again once such a HEAD-to-PUT gap has surely passed.
  local gap = self.repo.client:now() - t0
  ok, err, code = has_ours(self, digest, plan)
  if not ok then return ok, err, code end
  if alone then return true, "signed" end
  self.repo.client:sleep(math.min(M.SETTLE + 4 * gap, 2))
  ok, err, code = has_ours(self, digest, plan)
  return ok, ok and "signed" or err, code
end

--- Appends to the signatures of digest: build(manifest or nil) returns a
-- plan {blobs={ {desc=, bytes=} }, text=, desc=, kept=fn(manifest)} or
-- nil when nothing is to be done. opts: {fresh= (see above)}. Returns
-- "signed" or "present".
function Place:append(digest, build, opts)
  local last, last_code
  local fresh = opts and opts.fresh
  for i = 1, M.ATTEMPTS do
    local ok, how, code = attempt(self, digest, build, fresh and i == 1)
    if ok then return how end
    if ok == nil then return nil, how, code end
    last, last_code = how, code
    -- another signer wrote meanwhile: wait a little, a different time each
    self.repo.client:sleep(0.05 * i + math.random() * 0.1)
  end
  if last then return nil, last, last_code end
  return nil, ("the signatures of %s kept changing while they were written (%d attempts): sign again"):format(
    self:where(digest), M.ATTEMPTS), "CHANGED"
end

return M
