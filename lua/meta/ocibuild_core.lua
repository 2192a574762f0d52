---@meta ocibuild.core
-- Type stub for the language server (LuaLS): the private C module
-- `ocibuild.core`. Users call `require "ocibuild"`; this is for the people
-- who work on ocibuild itself.
--
-- Error contract. A failure of the environment (a file that is missing,
-- unreadable or changed while read, a full disk, a bad pattern, a digest
-- that does not match) is returned, never raised:
--     nil, "<CODE>: <reason>: <what>", "<CODE>"
-- with CODE an errno name ("ENOENT", "EACCES", ...) or one of ocibuild's
-- own: CHANGED (a file changed as it was read), BADNAME (a name that is not
-- UTF-8), WHITEOUT (a name starting with .wh.), DEVICE, BADDIGEST, BADSIZE,
-- BADPATTERN, ARCHIVE (libarchive). Misuse (a wrong argument type, a closed
-- object) raises. Resources are userdata with `close()` (safe twice) and
-- `__close`/`__gc`; dropping one before `close()` removes what it had
-- started to write.
local core = {}

---@alias ocibuild.fail nil

---@class ocibuild.Matcher
local Matcher = {}
---The per-path answer (moby/patternmatcher MatchesOrParentMatches).
---@param path string slash-separated, relative to the context
---@return boolean excluded
---@return integer? why 1-based index of the deciding pattern
function Matcher:matches(path) end

---Compiles .dockerignore patterns (as Docker's reader yields them).
---@param patterns string[]
---@return ocibuild.Matcher|ocibuild.fail
---@return string? msg
---@return string? code "BADPATTERN"
---@return integer? index the bad pattern's position
function core.matcher(patterns) end

---@class ocibuild.WalkInfo
---@field type "file"|"dir"|"symlink"|"fifo"|"socket"|"chardev"|"blockdev"|"unknown"
---@field mode integer permission bits
---@field size integer
---@field uid integer
---@field gid integer
---@field mtime integer
---@field dev integer
---@field ino integer
---@field nlink integer
---@field target string? symlink target
---@field excluded boolean? with `with_excluded`: left out
---@field why integer? the deciding pattern (1-based)

---@class ocibuild.Walker
local Walker = {}
---@return string|nil path
---@return ocibuild.WalkInfo|string|nil info_or_msg
---@return string? code
function Walker:next() end
function Walker:close() end

---Walks root depth first in byte order, with exclusions as BuildKit applies them.
---@param root string
---@param matcher ocibuild.Matcher?
---@param with_excluded boolean? also report excluded paths
---@return ocibuild.Walker|ocibuild.fail, string?, string?
function core.walk(root, matcher, with_excluded) end

---@class ocibuild.LayerResult
---@field diff_id string sha256 of the tar
---@field digest string sha256 of the blob
---@field size integer bytes of the blob
---@field tar_size integer bytes of the tar
---@field entries integer tar entries from the context
---@field blocks integer compression blocks of the tar
---@field reused integer blocks taken from an earlier build instead of compressed
---@field whole boolean the earlier build's blob is the result (nothing written)
---@field warnings string[] sockets left out, a record that could not be saved

---Builds one layer blob into the store, in one pass. With reuse_dir (a
---folder of block records, see ocibuild.reuse) unchanged blocks of an
---earlier build are copied instead of compressed.
---@return ocibuild.LayerResult|ocibuild.fail, string?, string?
function core.layer(root, matcher, store, prefix, display, mtime, keep_mtime, clamp, keep_owner,
                    uid, gid, normalize_mode, compression, level, jobs, skip_paths, reuse_dir) end

---@class ocibuild.Hasher
local Hasher = {}
---@param data string
---@return ocibuild.Hasher
function Hasher:update(data) end
---@return string digest "sha256:<hex>"
---@return integer size
function Hasher:digest() end
---@return ocibuild.Hasher
function core.sha256() end

---@class ocibuild.Compressor
local Compressor = {}
---@return string|ocibuild.fail compressed bytes produced so far
function Compressor:write(data) end
---@return string|ocibuild.fail the rest
function Compressor:close() end
---@param level integer?
---@param kind "gzip"|"zstd"|"none"|nil
---@param threads integer?
---@return ocibuild.Compressor|ocibuild.fail, string?, string?
function core.compressor(level, kind, threads) end
---What output bytes depend on besides the input ("gzip-5-libdeflate1.14-b1024k-f2").
---@param kind "gzip"|"zstd"|"none"
---@param level integer
---@return string
function core.compression_key(kind, level) end

---@class ocibuild.BlobWriter
local BlobWriter = {}
function BlobWriter:write(data) end
---@return string|ocibuild.fail digest
---@return integer|string size_or_msg
function BlobWriter:close() end
---@return ocibuild.BlobWriter|ocibuild.fail, string?, string?
function core.blob_writer(store) end
---@return string|ocibuild.fail bytes, verified against the digest
function core.blob_read(store, digest, maxsize) end
---@return true|ocibuild.fail
function core.blob_verify(store, digest, size) end

---@class ocibuild.TarWriter
local TarWriter = {}
---@param kind "dir"|"data"|"file"|"symlink"|"hardlink"|"fifo"
function TarWriter:add(kind, name, mode, mtime, uid, gid, arg) end
---@return integer|ocibuild.fail size
---@return string digest
function TarWriter:close() end
function TarWriter:abort() end
---@return ocibuild.TarWriter|ocibuild.fail, string?, string?
function core.tar_writer(path) end

---@return true|ocibuild.fail
function core.layout_init(store) end
---@return true|ocibuild.fail
function core.replace_file(path, data, tmpdir) end
---@class ocibuild.Lock
local Lock = {}
function Lock:close() end
---@param shared boolean?
---@return ocibuild.Lock|ocibuild.fail, string?, string?
function core.lock(path, shared) end
---@return integer|ocibuild.fail removed
function core.gc_temps(tmpdir) end

---@return {type: "dir"|"file"|"other", size: integer, mode: integer, dev: integer, ino: integer}|ocibuild.fail
function core.stat(path) end
---@return string|ocibuild.fail
function core.cwd() end
---@return integer
function core.ncpu() end
---@return string[]|ocibuild.fail
function core.list_dir(path) end
---@return true|ocibuild.fail
function core.unlink(path) end

return core
