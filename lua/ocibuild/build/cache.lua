--- One layer built with a shared cache (ocibuild.registry.cache) in
-- one pass over its files. The job hashes the tar as it goes; when the
-- store knows no earlier build of the layer, its first block names a
-- candidate in the cache (the latest record starting with that block),
-- and the blocks the candidate has are not compressed, only hashed (the
-- rest are, speculatively). At the end the diff_id is known: when it is
-- the candidate's own layer (or the cache has a record of it), the
-- record's blob is downloaded whole, verified (its digest, and the digest
-- of the tar it holds: the diff_id), and nothing was compressed;
-- else the candidate's pieces of the unchanged blocks are fetched by range
-- into the blob's holes, each checked against its block before the blob
-- is published. Whatever goes wrong with the cache (a registry that serves
-- no ranges, a piece that is not its block, a blob gone) costs a second
-- pass that builds the layer afresh, said in a warning; never a failure.
local events = require "ocibuild.events"
local shared = require "ocibuild.registry.cache"

local M = {}

-- The record is this very layer when every block is one of its own, in place.
local function same_layer(rec, r)
  return rec.diff_id == r.diff_id and r.holes == #rec.blocks and r.blocks == #rec.blocks
end

-- The layer is the record's blob: downloaded, the job's work dropped. A
-- record is anyone's with push access to the cache: the blob must hold
-- this very tar (decompressed, the diff_id the job computed).
local function whole(job, r, rec, st)
  local fetched, created, code = shared.download(rec, st)
  if not fetched then return nil, created, code end
  local plain, err
  plain, err, code = st:tar_digest(rec.blob.digest)
  if plain ~= r.diff_id then
    if created then st.core:remove_blob(rec.blob.digest) end
    return nil, plain and ("it holds a tar of digest %s, not this layer's %s"):format(plain, r.diff_id) or err,
      plain and "BADDIGEST" or code
  end
  if created then shared.note_source(rec, st) end
  job:close()
  r.digest, r.size, r.whole, r.reused, r.holes = rec.blob.digest, rec.blob.size, true, r.blocks, 0
  r.created = created
  r.cache = { ref = rec.name, saved = r.tar_size, fetched = fetched }
  return r
end

-- The holes filled from the candidate's blob, then the blob published;
-- ran: the run's result (its catalog of the layer's entries, if any).
local function fill(job, cand, ran)
  local holes = job:holes()
  local fetched, err, code = shared.fetch(cand, holes)
  if not fetched then return nil, err, code end
  local r
  r, err, code = job:fill()
  if not r then return nil, err, code end
  r.cache = { ref = cand.name, saved = holes.saved, fetched = fetched }
  r.catalog = ran.catalog
  return r
end

--- Builds a layer: make_job() gives a new core.layer_job for it; ctx:
-- {cache_from= (an ocibuild.registry.cache), on_event=}; codec: the
-- layer's core codec. Returns the job's result (plain data: it reaches
-- scripts), with cache = {ref=, saved=, fetched=} when the cache gave its
-- blob or blocks, and the cache's record when the blob is the record's;
-- or nil, msg, code.
function M.run(make_job, ctx, codec, st)
  local cache, key = ctx.cache_from, codec:key()
  local job, cand = make_job(), nil
  local r, err, code = job:run(ctx.on_event, function(id0)
    cand = cache:candidate(id0, key)
    if not cand then return nil end
    return { blob = cand.blob.digest, size = cand.blob.size, head = cand.head, blocks = cand.blocks }
  end)
  if not r then return nil, err, code end
  if r.holes == 0 then return r end
  local rec = same_layer(cand, r) and cand or cache:exact(r.diff_id, key)
  if rec then
    local got
    got, err = whole(job, r, rec, st)
    if got then return got, rec end
  else
    local got
    got, err = fill(job, cand, r)
    if got then return got end
  end
  job:close()
  events.emit(ctx.on_event, { type = "warning", message = ("the cache's blob %s could not be used (%s): the layer "
    .. "is built afresh"):format(rec and rec.blob.digest or cand.blob.digest, err) })
  return make_job():run(ctx.on_event)
end

return M
