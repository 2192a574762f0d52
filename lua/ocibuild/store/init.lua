--- The local store: one OCI image layout shared by every image built.
-- Blobs are shared between images; index.json holds one descriptor per tag
-- (see ocibuild.store.index for how entries name references) and whatever
-- else other tools put there, kept. index.json is only ever replaced whole,
-- atomically, under the store's index lock, after being read strictly:
-- a store operation that cannot read what it needs stops and says why.
-- Functions return nil, msg, code on failure.
local core = require "ocibuild.core"
local doc = require "ocibuild.oci.doc"
local index = require "ocibuild.store.index"
local json = require "ocibuild.oci.json"
local media = require "ocibuild.oci.media"
local path = require "ocibuild.util.path"

local M = {}
M.__index = M

M.LAYOUT = '{"imageLayoutVersion":"1.0.0"}'

--- The store folder to use and where that came from: `explicit`
-- ("--store"), else $OCIBUILD_STORE, else
-- ${XDG_DATA_HOME:-$HOME/.local/share}/ocibuild/store ("default").
-- Returns dir, source, or nil, msg, code.
function M.default_dir(explicit)
  if explicit and explicit ~= "" then return explicit, "--store" end
  local env = os.getenv("OCIBUILD_STORE")
  if env and env ~= "" then return env, "OCIBUILD_STORE" end
  local data = os.getenv("XDG_DATA_HOME")
  if not data or data == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then
      return nil, "cannot place the store: set HOME, XDG_DATA_HOME or OCIBUILD_STORE", "ENOENT"
    end
    data = home .. "/.local/share"
  end
  return data .. "/ocibuild/store", "default"
end

local function setup(self)
  local c = self.core
  if not core.stat(self.dir .. "/oci-layout") then
    local ok, err, code = c:replace("oci-layout", M.LAYOUT)
    if not ok then return nil, err, code end
  end
  if not core.stat(self.dir .. "/index.json") then
    local lock <close>, err, code = c:lock("index")
    if not lock then return nil, err, code end
    if not core.stat(self.dir .. "/index.json") then
      local ok
      ok, err, code = self:write_index(doc.index({}))
      if not ok then return nil, err, code end
    end
  end
  return self
end

local SOURCES = { ["--store"] = "given with --store", OCIBUILD_STORE = "from $OCIBUILD_STORE",
  default = "the default store" }

--- Where the store folder came from (a source of M.default_dir), for
-- messages: "given with --store", "the default store".
function M.describe(source)
  return SOURCES[source] or source
end

--- Opens the layout at dir. opts: {create=true} makes it when missing
-- (builds, imports, pulls); without, a missing store is an error naming
-- the path and, with opts.source (from M.default_dir), where the path
-- came from: read-only commands never create a store. Returns the store.
function M.open(dir, opts)
  opts = opts or {}
  dir = path.abs(dir)
  local from = opts.source and (" (%s)"):format(SOURCES[opts.source] or opts.source) or ""
  local c, err, code = core.store(dir, { create = opts.create or false })
  if not c then
    if code == "ENOENT" and not opts.create then
      return nil, ("no store at %s%s"):format(dir, from), code
    end
    return nil, ("store %s is not usable: %s"):format(dir, err), code
  end
  local self = setmetatable({ dir = dir, core = c }, M)
  if opts.create then return setup(self) end
  if not core.stat(dir .. "/index.json") then
    return nil, ("%s%s is not an image store: it has no index.json"):format(dir, from), "ENOENT"
  end
  return self
end

--- Opens the store the command line names: `explicit` (--store), else
-- $OCIBUILD_STORE, else the default (see M.default_dir); opts as M.open.
function M.locate(explicit, opts)
  local dir, source = M.default_dir(explicit)
  if not dir then return nil, source, "ENOENT" end
  local o = { source = source }
  for k, v in pairs(opts or {}) do o[k] = v end
  return M.open(dir, o)
end

--- Writes bytes as a blob. Returns digest, size, and true when the blob
-- was not in the store before. One there already whose bytes verify is
-- kept as it is (no temp file made); a damaged one is replaced.
function M:put_blob(data)
  local digest = core.sha256():update(data):digest()
  if self.core:blob_read(digest, #data) then return digest, #data, false end
  local w <close>, err, code = self.core:blob_writer()
  if not w then return nil, err, code end
  local ok
  ok, err, code = w:write(data)
  if not ok then return nil, err, code end -- leaving the scope drops the temp file
  return w:close()
end

--- Reads a blob whole, verified against its digest (max: bytes allowed).
function M:get_blob(digest, max)
  return self.core:blob_read(digest, max)
end

--- Reads a JSON blob (manifest, index, config), verified and at most
-- doc.MAX_JSON bytes.
function M:get_json(digest)
  return self.core:blob_read(digest, doc.MAX_JSON)
end

--- Reads the document the descriptor d names, `kind` "config",
-- "manifest" or "index": its size checked against d.size, then parsed
-- strictly (a manifest or an index by d.mediaType). Messages start with
-- "WHERE: KIND DIGEST". Returns the document, or nil, msg, code.
function M:read_doc(d, kind, where)
  local what = ("%s: %s %s"):format(where, kind, d.digest)
  local text, err, code = self:get_json(d.digest)
  if not text then return nil, ("%s: %s"):format(what, err), code end
  if #text ~= d.size then
    return nil, ("%s has %d bytes, its descriptor says %d"):format(what, #text, d.size), "BADSIZE"
  end
  if kind == "config" then return doc.read_config(text, what) end
  return doc.read_any(text, d.mediaType, what)
end

--- Path of a blob (the digest is validated first).
function M:blob_path(digest)
  return self.core:blob_path(digest)
end

--- The digest of the tar a layer blob holds (decompressed, read through
-- to its end): a layer's diff_id; or nil, msg, code.
function M:tar_digest(digest)
  local r <close>, err, code = core.tar_reader(self.core, digest)
  if not r then return nil, err, code end
  repeat
    local e
    e, err, code = r:next()
    if not e and err then return nil, err, code end
  until not e
  local _, size, plain = r:finish()
  if not plain then return nil, size, "ARCHIVE" end
  return plain
end

--- Checks a blob's size and digest.
function M:verify_blob(digest, size)
  return self.core:blob_verify(digest, size)
end

--- true when the store holds a file for the blob (not verified).
function M:has_blob(digest)
  local p = self.core:blob_path(digest)
  return p ~= nil and core.stat(p) ~= nil
end

--- index.json, read strictly. Returns the index document (its
-- `manifests` list, and every other field as found).
function M:read_index()
  local text, err, code = self.core:read("index.json", doc.MAX_JSON)
  if not text then return nil, err, code end
  return doc.read_index(text, self.dir .. "/index.json")
end

--- Replaces index.json with the index document idx (callers hold the
-- index lock). Writes nothing when the bytes would not change.
function M:write_index(idx)
  idx.manifests = json.array(idx.manifests or {})
  local text = doc.encode(doc.index(idx.manifests, idx))
  if self.core:read("index.json", doc.MAX_JSON) == text then return true end
  return self.core:replace("index.json", text)
end

--- Reads index.json under the index lock, lets fn change the document
-- (fn(idx) returns true, or nil, msg, code to change nothing) and writes
-- it back. Returns what fn returned.
function M:update_index(fn)
  local lock <close>, err, code = self.core:lock("index")
  if not lock then return nil, err, code end
  local idx
  idx, err, code = self:read_index()
  if not idx then return nil, err, code end
  local ok
  ok, err, code = fn(idx)
  if not ok then return nil, err, code end
  local wrote
  wrote, err, code = self:write_index(idx)
  if not wrote then return nil, err, code end
  return ok, err, code
end

-- desc, with the platform of its config when it is an image manifest
-- whose descriptor has none (a registry's answer, another tool's index):
-- an image's entry, and so an archive exported from it, are the same
-- whichever way the image came in. The field is optional: a config that
-- cannot be read leaves desc as it is.
local function with_platform(self, desc)
  if desc.platform ~= nil or media.kind(desc.mediaType) ~= "manifest" then return desc end
  local m = self:read_doc(desc, "manifest", "tag")
  if not m or media.kind(m.config.mediaType) ~= "config" then return desc end
  local c = self:read_doc(m.config, "config", "tag")
  if not c then return desc end
  local d = {}
  for k, v in pairs(desc) do d[k] = v end
  d.platform = json.object { os = c.os, architecture = c.architecture,
    variant = type(c.variant) == "string" and c.variant or nil }
  return d
end

--- Points each reference in refs (parsed, see ocibuild.oci.ref) at the
-- manifest descriptor desc; a tag that names another image moves, whoever
-- wrote it. With no refs, desc is listed untagged (`<none>`) unless an
-- entry already lists it. A manifest's entry gets its config's platform
-- when desc has none.
function M:tag(desc, refs)
  desc = with_platform(self, desc)
  return self:update_index(function(idx)
    idx.manifests = index.set_tags(idx.manifests, desc, refs)
    return true
  end)
end

--- Holds the store against `prune` while a build writes blobs that
-- nothing references yet. Returns a lock to close when done.
function M:use()
  local hold, err, code = self.core:lock("prune", true)
  if not hold and (code == "EACCES" or code == "EROFS" or code == "EPERM") then
    return nil, ("store %s cannot be written (%s): a build, import or pull needs a store it may write to")
      :format(self.dir, tostring(err):gsub("^%u+: ", "")), code
  end
  return hold, err, code
end

--- The manifest descriptor a reference (parsed) points at.
function M:resolve(r)
  local idx, err, code = self:read_index()
  if not idx then return nil, err, code end
  local d = index.find(idx.manifests, r)
  if d then return d end
  return nil, ("no image %s in store %s"):format(r.familiar, self.dir), "ENOENT"
end

--- The records of where the store's blobs came from and went to (see
-- ocibuild.store.sources): read now, written back by their `save`.
function M:sources()
  return require("ocibuild.store.sources").load(self)
end

--- Removes what no tag reaches: see ocibuild.store.prune.
function M:prune(opts)
  return require("ocibuild.store.prune").run(self, opts)
end

return M
