--- The Image and Index objects of the public API: what oci.image,
-- oci.index and oci.dockerfile return. Each object is a handle: the build
-- record behind it (ocibuild.build.image or .index) and the session it
-- belongs to (ocibuild.api.session: the context its paths are checked
-- and its saves run in) are kept here, out of the script's reach. Every
-- method raises on failure, at the caller's line; a mistyped method name
-- raises too, with the nearest one.
-- @submodule ocibuild
local build = require "ocibuild.ops.build"
local check = require "ocibuild.util.check"
local session = require "ocibuild.api.session"

local M = {}

local plain, where, uncharged = session.plain, session.where, session.uncharged

-- object -> {rec= (the build record), s= (the session)}
local inner = setmetatable({}, { __mode = "k" })

-- A class whose unknown methods raise "NAME has no method ..." (with the
-- nearest one), so that a typo fails where it is made.
local function class(name)
  local c = { __metatable = "ocibuild." .. name }
  c.__index = c
  setmetatable(c, {
    __index = function(t, k)
      local names = {}
      for n in pairs(t) do
        if type(n) == "string" and n:sub(1, 2) ~= "__" then names[#names + 1] = n end
      end
      table.sort(names)
      local near = type(k) == "string" and check.suggest(k, names)
      error(("%s has no method %s%s"):format(name, check.show(k), near and (" (did you mean %q?)"):format(near) or ""),
        2)
    end,
  })
  return c
end

local Image, Index = class("Image"), class("Index")

local function state(self, kind)
  local t = inner[self]
  if not t or t.kind ~= kind then
    error(("expected an %s made by oci.%s (call methods with ':')"):format(kind == "image" and "image" or "index",
      kind), 3)
  end
  return t.rec, t.s
end

-- An Image object for the build record rec of session s.
function M.image(s, rec)
  local self = setmetatable({}, Image)
  inner[self] = { rec = rec, s = s, kind = "image" }
  return self
end

-- An Index object for the build record rec of session s.
function M.index(s, rec)
  local self = setmetatable({}, Index)
  inner[self] = { rec = rec, s = s, kind = "index" }
  return self
end

-- The object for rec: an Index when it holds images, else an Image.
function M.object(s, rec)
  if rec.images then return M.index(s, rec) end
  return M.image(s, rec)
end

-- The build record behind an Image object, or nil.
function M.record(obj)
  local t = inner[obj]
  return t and t.kind == "image" and t.rec or nil
end

-- Saves what self holds (an image or an index) through the build verb.
local function save(self, kind, o)
  local rec, s = state(self, kind)
  if o ~= nil and type(o) ~= "table" then error("save needs a table", 3) end
  local r, err, _, at = build.save(s.ctx, rec, plain(o) or {})
  if not r then
    if not at then error(err, 3) end
    -- a Dockerfile's failures already start with their FILE:LINE
    if err:sub(1, #at + 2) ~= at .. ": " then err = at .. ": " .. err end
    error(err, 0)
  end
  return s:saved(r)
end

--- Adds a layer: a directory's files, as `docker build` would `COPY` them.
-- @function Image:layer
-- @tparam table spec `context` (the directory), `dest` (where it goes,
-- default /), `exclude` (patterns, or what `ignorefile` returns),
-- `ignorefile` (a path, or false for none), `mode`, `mtime`, `owner`,
-- `rules` (per-path mode, dir_mode, owner, mtime), `replace` (the
-- destination replaces what the base has there), `compression`,
-- `level`, `jobs`
-- @return the image
-- @raise on an unknown option, a bad value, a missing context

--- Adds one file: generated (`content`) or copied (`source`). Files and
-- removals called one after the other make one layer of their own.
-- @function Image:file
-- @tparam table spec `path` (in the image), `content` | `source`,
-- `mode`, `owner`
-- @return the image
-- @raise on a bad option, both or neither of content and source

--- Removes paths of the image below (OCI whiteouts).
-- @function Image:remove
-- @tparam table list paths or patterns: { "/etc/motd", "/usr/share/doc/**" }
-- @return the image
-- @raise on a bad path or pattern

--- Sets manifest annotations: full keys, or short names for the
-- org.opencontainers.image.* ones (source, revision, version, title,
-- created = true for the build time, ...).
-- @function Image:annotations
-- @tparam table t
-- @return the image
-- @raise on a bad key or value

--- Sets one label of the image config.
-- @function Image:label
-- @tparam string k
-- @tparam string v
-- @return the image
-- @raise unless both are strings

--- Sets labels from a table of strings.
-- @function Image:labels
-- @tparam table t
-- @return the image
-- @raise on a value that is not a string

--- Sets config fields: entrypoint, cmd, env, workdir, user, ports,
-- volumes, stop_signal, labels; env merges with the base's per key.
-- @function Image:config
-- @tparam table t
-- @return the image
-- @raise on an unknown field or a bad value

-- The methods above: each the build record's method named first, given a
-- plain copy of its argument; layer, file and remove also the caller's
-- line, layer and file after the build verb checked their paths.
local METHODS = { layer = { "layer", build.layer_paths }, file = { "file", build.file_paths },
  remove = { "remove", true }, annotations = { "annotate" }, label = { "label" }, labels = { "set_labels" },
  config = { "config" } }
for name, m in pairs(METHODS) do
  local method, paths = m[1], m[2]
  Image[name] = function(self, a, b)
    local _ <close> = uncharged()
    local img, s = state(self, "image")
    a = plain(a)
    local ok, err = true, nil
    if type(paths) == "function" then ok, err = paths(s.ctx, a) end
    if ok then ok, err = img[method](img, a, paths and where(2) or plain(b)) end
    if not ok then error(err, 2) end
    return self
  end
end

--- Builds the image and saves it in the store, tagged.
-- @function Image:save
-- @tparam[opt] table o `tag` (a string or a list), `archive` (also write
-- an OCI archive there), `cache` (false: build from scratch, reading no
-- earlier build's records), `push` (true: to each tag, which must name
-- its registry; or a reference, or a list of them), `registry` (options,
-- see `push`), `sbom` (true, "spdx", "cyclonedx" or {format=, files=}:
-- an SBOM attestation), `provenance` (true: SLSA provenance), `sign`
-- ({key= (a private key file), attest= (sign the attestations too)}:
-- cosign signatures in the store and where it is pushed)
-- @treturn table `image_id`, `digest`, `size`, `path` (the store),
-- `tags`, `archive`, `pushed`, `attestations`, `signed`
-- @raise on failure; a layer's failure points at its `layer` call
function Image:save(o)
  local _ <close> = uncharged()
  local r = save(self, "image", o)
  return r
end

--- Builds every image of the index and saves the index under its tags.
-- @function Index:save
-- @tparam[opt] table o as for Image:save
-- @treturn table what Image:save returns, with `images` (each image's)
-- @raise on failure; a layer's failure points at its `layer` call
function Index:save(o)
  local _ <close> = uncharged()
  local r = save(self, "index", o)
  return r
end

return M
