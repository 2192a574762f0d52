---@meta ocibuild.core
-- Type stub for the language server (LuaLS): the private C module
-- `ocibuild.core`. Users call `require "ocibuild"`; this is for the people
-- who work on ocibuild itself.
--
-- Error contract. A failure of the environment (a file that is missing,
-- unreadable or changed while read, a full disk, a bad pattern, a digest
-- that does not match) is returned, never raised:
--     nil, "<CODE>: <reason>: <what>", "<CODE>"
-- with CODE the errno's own name ("ENOENT", "EACCES", "EOVERFLOW", ...)
-- or one of ocibuild's: CHANGED (a file changed as it was read), BADNAME
-- (a name that is not UTF-8), LOCALE (a name that is not ASCII where no
-- UTF-8 locale is installed), WHITEOUT (a name starting with .wh.), DEVICE,
-- BADTYPE, BADDIGEST, BADSIZE, TOOBIG, CORRUPT (a store blob changed since
-- it was written), BADPATTERN, ARCHIVE (libarchive), ECANCELED (an event
-- callback stopped a job); HTTP transfers add UNKNOWNHOST, X509 (a
-- certificate not trusted), NOTLS (TLS asked, the server spoke something
-- else), TLS, CAFILE, CLIENTCERT (the client certificate or key unusable),
-- HTTP (any other libcurl failure), CORRUPT (a store blob being sent is not
-- its digest), TOOBIG (an answer past its expected size), and the errno names
-- of the connection (ECONNREFUSED, ETIMEDOUT, ECONNRESET for a connection
-- that broke or answered nothing); keys add BADPEM, BADKEY, NEEDPASS (an
-- encrypted key and no passphrase), BADPASS, KEYTYPE (not ECDSA P-256),
-- NOTSUP (cosign's own key format), and base64 BADBASE64 (the Lua side's
-- codes are listed with these in lua/ocibuild/util/codes.lua, the one list
-- of every code). Misuse (a wrong argument type, an unknown
-- option, a closed object) raises. Options travel as tables whose unknown
-- keys are errors. Resources are userdata with `close()` (safe twice) and
-- `__close`/`__gc`; dropping one before `close()` removes what it had
-- started to write. Messages are one line: names in them are quoted
-- (control bytes and invalid UTF-8 as \xNN; a name too long keeps its
-- start and end around "...").
--
-- Temp files. Every file being written (a blob, index.json, an archive
-- beside its path) is a flock'ed temp file until it is published. Loading
-- the module installs handlers for SIGHUP, SIGINT, SIGTERM, SIGPIPE and
-- SIGXFSZ that remove the process's temp files before the signal takes
-- effect (only for signals left at their default: a host's own handler,
-- lua.c's for SIGINT, stays); a new temp file first removes the abandoned
-- ones of its kind in its folder (their flock is free).
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
---@param opts {excluded: boolean?, skip: string[]?, match_base: string?, threads: integer?}? excluded: also report excluded paths; skip: paths left out; match_base: root's path in the tree the patterns are written for (every path is matched as match_base/path); threads: make the lstat calls ahead on that many helper threads (same results)
---@return ocibuild.Walker|ocibuild.fail, string?, string?
function core.walk(root, matcher, opts) end

---@class ocibuild.TarPolicy
---The header policy of a layer, checked once. owner "UID:GID" (ids up to
---4294967294) or "keep"; mode "keep" or "normalize"; mtime whole seconds.
---rules: per-path overrides, each {pattern, mode=, dir_mode=, owner=,
---mtime=} (mode for non-folders, dir_mode for folders, symlinks keep
---theirs); a pattern is a .dockerignore line (parents match too) and for
---each attribute the last matching rule wins, decided in C per file.
---@param t {prefix: string?, display: string?, mtime: integer?, keep_mtime: boolean?, clamp: boolean?, owner: string?, mode: string?, rules: table[]?}
---@return ocibuild.TarPolicy|ocibuild.fail
---@return string? msg
---@return string? code "BADPATTERN"
---@return integer? index the bad rule's position
function core.tar_policy(t) end

---@class ocibuild.Codec
local Codec = {}
---What output bytes depend on besides the input ("gzip-5-libdeflate1.14-b1024k-f2").
---@return string
function Codec:key() end
---A stream for small data and specs (layers go through core.layer_job).
---@return ocibuild.Compressor|ocibuild.fail, string?, string?
function Codec:compressor() end
---A codec, checked once (raises on a bad kind, level or thread count).
---@param t {kind: "gzip"|"zstd"|"none"|nil, level: integer?, threads: integer?}
---@return ocibuild.Codec
function core.codec(t) end

---@class ocibuild.Compressor
local Compressor = {}
---@return string|ocibuild.fail compressed bytes produced so far
function Compressor:write(data) end
---@return string|ocibuild.fail the rest
function Compressor:close() end

---@class ocibuild.LayerResult
---@field diff_id string sha256 of the tar
---@field digest string sha256 of the blob
---@field size integer bytes of the blob
---@field tar_size integer bytes of the tar
---@field made integer tar bytes this build read or made (0 when nothing changed since the layer state; unchanged entries are taken from the earlier build)
---@field entries integer tar entries (destination folders included)
---@field blocks integer compression blocks of the tar (cut where its entries say)
---@field reused integer blocks taken from an earlier build instead of compressed
---@field whole boolean the earlier build's blob is the result (nothing written)
---@field created boolean the blob was not in the store before this job
---@field catalog string? with a catalog: its records (see core.catalog_spec)
---@field prior string? the earlier blob whose entries a rebuild kept unread (their records are 'k')
---@field holes integer blocks a candidate has, left as holes to fill (digest "" until LayerJob:fill)

---@class ocibuild.LayerJob
local LayerJob = {}
---Runs the job. on_event(ev) is called on this thread: {type="progress",
---entries=, bytes=, out=} at most 10 times a second, {type="warning",
---message=} (a socket skipped; names in one folder differing only in case; a mount
---point crossed; a file keeping a setuid/setgid bit; at most 10 of each kind). An
---error raised by on_event stops the job (what it wrote is
---removed) and is raised again here. With a catalog, each capture comes as
---{type="capture", path=, data=, size=, mode=, cut=, kind="prefix"|"goinfo"}.
---candidate(id0), called once with the first block's SHA-256 (hex) when
---the store knows no earlier output (no layer state, no record), may
---return a candidate: an output elsewhere (a registry's blob), as
---Store:reuse_record gives one. Blocks it has (same SHA-256, length and
---CRC-32 as this input's) are not compressed: their pieces are left as
---holes (result.holes > 0, digest ""), to be written by the caller
---(LayerJob:holes) before LayerJob:fill. What it raises is raised here.
---@param on_event fun(ev: table)?
---@param candidate fun(id0: string): {blob: string, size: integer, head: integer, blocks: table[]}?
---@return ocibuild.LayerResult|ocibuild.fail, string?, string?
function LayerJob:run(on_event, candidate) end
---After a run that left holes: the file to write them into, and where:
---bytes [from, to) of the candidate's blob go at offset `at` (holes next to
---each other, of pieces next to each other, make one run); saved: the
---input bytes of the blocks they stand for.
---@return {path: string, saved: integer, runs: {from: integer, to: integer, at: integer}[]}
function LayerJob:holes() end
---Checks each piece written into the holes (its CRC-32 as the candidate
---said, then decompressed: it must be its block, by SHA-256 and CRC-32;
---BADPIECE when not), hashes and publishes the blob, and records its blocks
---and the layer state. The job's holes are gone either way.
---@return ocibuild.LayerResult|ocibuild.fail, string?, string?
function LayerJob:fill() end
---Drops what a run that left holes keeps (its temp file).
function LayerJob:close() end
---One layer: walk root (with matcher) -> tar (policy) -> codec -> a blob of
---store. reuse (default true) looks up and writes reuse records and reads
---the layer state; state names the layer state (what this build saw, so the
---next reads only entries whose stat changed; the id must name everything
---else the bytes depend on); skip lists paths the walk leaves out (the
---store, an output file). items: entries written first, in order, instead
---of the folders of the policy's prefix (TarWriter:add's tables, plus kind
---"file" with path = a file opened, links followed, when written); without
---root, only the items.
---match_base: root's path as the matcher sees it (see core.walk).
---catalog: what the layer holds is learnt from the same pass (records and
---captures, see core.catalog_spec); a rebuild then keeps entries unread
---only when the earlier blob has the note "catalog" whose first line is
---"ocibuild-catalog <catalog_key>".
---@param t {root: string?, matcher: ocibuild.Matcher?, match_base: string?, store: ocibuild.Store, policy: ocibuild.TarPolicy, codec: ocibuild.Codec, reuse: boolean?, state: string?, skip: string[]?, items: table[]?, catalog: ocibuild.CatalogSpec?, catalog_key: string?}
---@return ocibuild.LayerJob
function core.layer_job(t) end

---@class ocibuild.CatalogSpec
local CatalogSpec = {}
---Reads the layer blob digest of store once through the catalog (its digest
---checked). on_capture gets each capture, as a layer job's on_event does;
---an error it raises is raised again here.
---@param store ocibuild.Store
---@param digest string
---@param on_capture fun(c: table)?
---@return string|ocibuild.fail records
---@return integer|string size of the blob, or msg
---@return string? code
function CatalogSpec:blob(store, digest, on_capture) end
---What a layer catalog records and captures from a tar stream: a record per
---entry "T<size> <mode> <sha256|-> <sha1|->\t<path>\0<link>\0" (T: f file,
---h hardlink, l symlink, d dir, p fifo, o other, k kept unread by a
---rebuild; paths clean and relative); with files, every entry, each
---file's SHA-256 and SHA-1; with entries, every entry; without either,
---only files looked into, kept files that would be, and whiteouts. Captures: the first max[why] bytes of the
---files capture matches (why: the deciding pattern), and windows of
---go_window bytes from each Go build information magic at a 16-byte
---offset of an ELF executable.
---@param t {files: boolean?, entries: boolean?, capture: ocibuild.Matcher?, max: integer[]?, go_window: integer?}
---@return ocibuild.CatalogSpec
function core.catalog_spec(t) end

---@param data string
---@return string hex the SHA-1 of data
function core.sha1_hex(data) end

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

---@class ocibuild.Store
---An OCI image layout; the only object that knows its paths.
local Store = {}
---@param name "index.json"|"oci-layout"
---@param max integer? bytes allowed (default 4 MiB; TOOBIG past it, as core.read_file)
---@return string|ocibuild.fail, string?, string?
function Store:read(name, max) end
---Replaces index.json or oci-layout atomically (temp file, fsync, rename).
---@return true|ocibuild.fail, string?, string?
function Store:replace(name, data) end
---Blocks for the index lock, or the prune lock (shared: builds; exclusive: prune).
---@param which "index"|"prune"
---@param shared boolean?
---@return ocibuild.Fd|ocibuild.fail, string?, string?
function Store:lock(which, shared) end
---@return ocibuild.BlobWriter|ocibuild.fail, string?, string?
function Store:blob_writer() end
---@return string|ocibuild.fail bytes, verified against the digest (BADDIGEST names both)
function Store:blob_read(digest, max) end
---@return true|ocibuild.fail size (BADSIZE) then bytes (BADDIGEST) checked
function Store:blob_verify(digest, size) end
---@return string|ocibuild.fail the path, after checking the digest's form (BADDIGEST)
function Store:blob_path(digest) end
---Copies a blob of another store in, verified on the way.
---@param from ocibuild.Store
---@return true|ocibuild.fail, string?, string?
function Store:copy_blob(from, digest, size) end
---@return table<string, integer>|ocibuild.fail digests present, with sizes
---@return string[]? names in blobs/sha256 that are not digests
function Store:blobs() end
---@return true|ocibuild.fail
function Store:remove_blob(digest) end
---A note: what was learnt from the blob digest at some cost (kind
---"entries": a base layer's entries); ENOENT when there is none, TOOBIG
---past max (default 64 MiB), read as core.read_file reads.
---@param kind string a lower-case word
---@return string|ocibuild.fail, string?, string?
function Store:note_read(kind, digest, max) end
---Writes a note whole (temp file, rename).
---@return true|ocibuild.fail, string?, string?
function Store:note_write(kind, digest, data) end
---Removes the notes whose blob is gone.
---@return integer|ocibuild.fail removed
function Store:prune_notes() end
---Removes temp files nobody holds (dry: only counts them).
---@param dry boolean?
---@return integer|ocibuild.fail removed
---@return integer|string bytes_or_msg their sizes
function Store:gc_temps(dry) end
---The blocks of the store's blob digest (made by codec), as its reuse record
---says when it is usable (the blob untouched since): each block is {id
---(SHA-256 of its input, hex), tend, oend (ends of its input and of its
---piece), crc, ocrc (CRC-32 of both)}; head: bytes before the first piece.
---@param codec ocibuild.Codec
---@return {diff_id: string, tar_size: integer, blob: string, size: integer, head: integer, blocks: table[]}?
function Store:reuse_record(codec, digest) end
---A new folder in the store's temp folder, "<prefix>XXXXXX", held by the
---lock returned (close it to let go): prune, or the next folder made with
---that prefix, removes it with all it holds once nobody holds it.
---@return string|ocibuild.fail path
---@return ocibuild.Fd|string lock_or_msg
function Store:temp_dir(prefix) end
---Removes a file or folder of the store's temp folder with all it holds
---(links removed, never followed).
---@return true|ocibuild.fail, string?, string?
function Store:remove_temp(path) end
---Removes reuse records and layer states of blobs that are gone (all: every one).
---@return integer|ocibuild.fail records removed
---@return integer|string states_or_msg layer states removed
function Store:prune_reuse(all) end
---Opens a layout; with create, makes its folders (not its files).
---@param opts {create: boolean?}?
---@return ocibuild.Store|ocibuild.fail, string?, string?
function core.store(dir, opts) end

---@class ocibuild.BlobWriter
local BlobWriter = {}
function BlobWriter:write(data) end
---@return string|ocibuild.fail digest
---@return integer|string size_or_msg
---@return boolean|string? created_or_code true when the blob was not in the store before
function BlobWriter:close() end

---@class ocibuild.TarWriter
local TarWriter = {}
---@param item {kind: "dir"|"data"|"symlink"|"hardlink"|"fifo", name: string, mode: integer?, mtime: integer?, uid: integer?, gid: integer?, data: string?, target: string?}
function TarWriter:add(item) end
---A store blob as a file entry, verified against digest and size as it is copied.
---@param attrs {name: string, mode: integer?, mtime: integer?, uid: integer?, gid: integer?}
function TarWriter:add_blob(store, digest, size, attrs) end
---@return integer|ocibuild.fail size
---@return string digest
function TarWriter:close() end
---A tar written to a temp file beside path, renamed over path on close;
---"-" writes straight to standard output (a failure leaves it cut short).
---@return ocibuild.TarWriter|ocibuild.fail, string?, string?
function core.tar_writer(path) end

---@class ocibuild.TarEntry
---@field name string as stored (unchecked)
---@field type "file"|"dir"|"symlink"|"hardlink"|"fifo"|"chardev"|"blockdev"|"socket"
---@field mode integer
---@field uid integer
---@field gid integer
---@field mtime integer
---@field size integer
---@field target string? symlink target or hardlink name

---@class ocibuild.TarReader
local TarReader = {}
---@return ocibuild.TarEntry|ocibuild.fail|nil entry, nil at the end
function TarReader:next() end
---The current entry's body (TOOBIG past max, default 4 MiB); with prefix,
---its first max bytes, and true when there was more.
---@param max integer?
---@param prefix boolean?
---@return string|ocibuild.fail, boolean|string|nil
function TarReader:read(max, prefix) end
---@return string|ocibuild.fail digest of the current entry's body
function TarReader:sha256() end
---@return string|ocibuild.fail digest, size: the body as a blob of store (checked when given)
function TarReader:to_blob(store, digest, size) end
---@return string|ocibuild.fail digest, size of the whole raw input read
function TarReader:finish() end
---The current entry's body as a new file (0600, O_EXCL; removed when the write fails).
---@return integer|ocibuild.fail size
function TarReader:to_file(path) end
---Unpacks the rest of the archive below the folder dir (a build context
---sent as a tar): names made clean, an absolute one or one holding ".."
---(or deeper than 256) refused, nothing written through a link (a name
---below a symlink or a file is refused), a name that comes twice refused,
---hardlinks only to earlier files, no devices, FIFOs or sockets (BADTAR,
---naming the entry); permission bits and mtimes set, folders' last;
---limits: max_entries (default 4194304), max_bytes (default 1 TiB).
---@param opts {max_entries: integer?, max_bytes: integer?}?
---@return {entries: integer, bytes: integer}|ocibuild.fail, string?, string?
function TarReader:unpack(dir, opts) end
---A tar (plain, gzip or zstd): a path, "-" for standard input, or a store and a digest.
---With a path, {any = true} also reads bzip2 and xz (the archives ADD unpacks).
---@param digest_or_opts string|{any: boolean?}?
---@return ocibuild.TarReader|ocibuild.fail, string?, string?
function core.tar_reader(path_or_store, digest_or_opts) end

---@class ocibuild.Fd
---An open descriptor held by Lua (a lock; close() releases it).
local Fd = {}
function Fd:close() end
---Makes a shared lock exclusive if nobody else holds it, at once.
---@return boolean granted (false: the lock may be released)
function Fd:try_exclusive() end

---@param mode integer? permission bits set before the file appears (0600 for credentials)
---@return true|ocibuild.fail
function core.replace_file(path, data, mode) end
---Makes path and its missing parents (existing folders are fine).
---@param mode integer? default 0755
---@return true|ocibuild.fail
function core.mkdirs(path, mode) end
---A new private folder named prefix .. six random characters (mkdtemp).
---@return string|ocibuild.fail
function core.mkdtemp(prefix) end
---Removes an empty folder.
---@return true|ocibuild.fail
function core.rmdir(path) end
---@param shared boolean?
---@return ocibuild.Fd|ocibuild.fail, string?, string?
function core.lock(path, shared) end
---With prefix, the first max bytes and whether the file has more.
---@param opts {max: integer?, nofollow: boolean?, prefix: boolean?}?
---@return string|ocibuild.fail the file's bytes (regular files only; EISDIR, BADTYPE, TOOBIG)
function core.read_file(path, opts) end
---@return {type: string, size: integer, mode: integer, dev: integer, ino: integer, uid: integer, gid: integer, mtime: integer, nlink: integer, target: string?}|ocibuild.fail target: a symlink's, with nofollow
function core.stat(path, nofollow) end
---@return string|ocibuild.fail
function core.realpath(path) end
---@return string|ocibuild.fail
function core.cwd() end
---@return integer
function core.ncpu() end
---Seconds on the monotonic clock (for rates and redraw intervals).
---@return number
function core.clock() end
---The width of the terminal on fd, 0 when unknown; false when fd is not a terminal.
---@param fd integer
---@return integer|false
function core.terminal(fd) end
---One line typed at the terminal fd (nil: the controlling terminal,
---/dev/tty) without echo (a password prompt), the newline dropped, after
---`prompt` is written to standard error (once echo is off); the terminal's
---settings are restored however it ends. Fails with ENOTTY when there is
---no terminal, EINTR when a signal cut it.
---@param fd integer?
---@param prompt string?
---@return string|ocibuild.fail
function core.read_secret(fd, prompt) end
---@return string uname's machine
function core.machine() end
---@return {libarchive: string, zlib: string, openssl: string}
function core.versions() end
---@return string[]|ocibuild.fail
function core.list_dir(path) end
---@return true|ocibuild.fail
function core.unlink(path) end

---@class ocibuild.HttpResult
---@field status integer
---@field headers table<string, string> names in lower case; repeated ones joined with ", "
---@field body string the answer (empty when it went into a blob)
---@field digest string? `into`: the blob published
---@field size integer? `into`: its size
---@field written integer `into_file`: the bytes written into the file
---@field url string the effective URL (after redirects)

---@class ocibuild.HttpRequest
local HttpRequest = {}
---The outcome of a finished request (raises while it runs).
---@return ocibuild.HttpResult|ocibuild.fail, string?, string?
function HttpRequest:result() end
---@return {done: boolean, sent: integer, received: integer, ip: string?, certs: string?}
---ip: the peer's address once done ("" when none was reached); certs:
---"Subject:"/"Issuer:" lines of the presented chain (with `certinfo`).
function HttpRequest:info() end
---Cancels the request when it still runs (what it wrote is removed).
function HttpRequest:close() end

---@class ocibuild.Http
local Http = {}
---Starts a request; it runs while `wait` is called. Bodies: `body` (a
---string) or `blob` (a range of a store blob, opened and size-checked
---now: ENOENT, BADSIZE); PUT and PATCH always carry a Content-Length.
---A blob is verified as it goes: its bytes are hashed in file order, and
---before its last byte leaves they must be its digest, else the transfer
---stops there (CORRUPT). `blob.hasher` (a core.sha256()) carries that
---hash across requests: consecutive ranges sent by consecutive requests
---(an upload in chunks, resumed or not) hash the whole blob, bytes of it
---this process never sent being read from the file.
---Answers: kept in memory up to `max` (default 1 MiB; TOOBIG past it),
---or with `into`, a 2xx body becomes a blob of that store, cut off past
---`size` bytes (TOOBIG) and published only when it is `digest`
---(BADDIGEST otherwise, nothing left behind); or with `into_file`, a 206
---body (a range) is written into the regular file `path` at `offset`, cut
---off past `size` bytes (TOOBIG); any other answer's body stays in memory.
---@param spec {method: string?, url: string, headers: string[]?, body: string?, blob: {store: ocibuild.Store, digest: string, offset: integer?, length: integer?, size: integer?, hasher: ocibuild.Hasher?}?, into: {store: ocibuild.Store, digest: string?, size: integer?}?, into_file: {path: string, offset: integer?, size: integer?}?, max: integer?, follow: boolean?, timeout: integer?, insecure: boolean?, certinfo: boolean?}
---@return ocibuild.HttpRequest|ocibuild.fail, string?, string?
function Http:start(spec) end
---Drives the transfers until one ends or `seconds` (default 0.1) pass.
---@return ocibuild.HttpRequest[] the requests that ended meanwhile
function Http:wait(seconds) end
---@return number monotonic seconds
function Http:now() end
---Cancels what is in flight.
function Http:close() end
---An HTTP client (libcurl, HTTP/1.1, connections reused): TLS verified
---against the system's CAs, or ca_file / ca_pem (PEM text), or not at all
---(insecure); cert_file and key_file (PEM) are presented when the server
---asks for a client certificate. A transfer slower than low_speed_limit
---bytes/s for low_speed_time seconds fails (ETIMEDOUT). Options are
---checked once (raises on an unknown one).
---@param opts {ca_file: string?, ca_pem: string?, insecure: boolean?, cert_file: string?, key_file: string?, connect_timeout: integer?, low_speed_time: integer?, low_speed_limit: integer?, user_agent: string?}?
---@return ocibuild.Http|ocibuild.fail, string?, string?
function core.http(opts) end

---@class ocibuild.Key
---An ECDSA P-256 key (the private one, or only the public half).
local Key = {}
---"sha256:<hex>" of the DER SubjectPublicKeyInfo: what names the key.
---@return string|ocibuild.fail
function Key:id() end
---@return boolean private the private half is there
function Key:private() end
---PKCS#8 PEM; encrypted (PBES2: scrypt N=16384 r=8 p=1, AES-256-CBC) with a
---password. Raises for a public key.
---@param password string?
---@return string|ocibuild.fail
function Key:private_pem(password) end
---SubjectPublicKeyInfo PEM ("PUBLIC KEY").
---@return string|ocibuild.fail
function Key:public_pem() end
---SHA-256/ECDSA over data; the signature ASN.1 DER. Raises for a public key.
---@return string|ocibuild.fail
function Key:sign(data) end
---@return boolean valid sig (DER) is this key's signature over data
function Key:verify(data, sig) end
---A new ECDSA P-256 key.
---@return ocibuild.Key|ocibuild.fail, string?, string?
function core.key_generate() end
---Reads a key from PEM text: PRIVATE KEY, ENCRYPTED PRIVATE KEY, EC
---PRIVATE KEY (encrypted or not), or with public, PUBLIC KEY. name names
---the file in messages.
---@param opts {name: string?, password: string?, public: boolean?}?
---@return ocibuild.Key|ocibuild.fail, string?, string? code BADPEM, BADKEY, NEEDPASS, BADPASS, KEYTYPE, NOTSUP
function core.key_load(pem, opts) end
---Standard alphabet, padded.
---@return string
function core.base64_encode(s) end
---Either alphabet, padding optional, nothing else allowed.
---@return string|ocibuild.fail, string?, string? code BADBASE64
function core.base64_decode(s) end
---Writes data as path, whole or not at all, with mode (default 0600) set
---before it appears; an existing path (even a dangling symlink) is EEXIST
---unless replace.
---@param opts {mode: integer?, replace: boolean?}?
---@return true|ocibuild.fail, string?, string?
function core.write_key_file(path, data, opts) end
---Raw deflate data (a zip entry's body) expanded, at most max bytes.
---@return string|ocibuild.fail, string?, string? code TOOBIG, CORRUPT
function core.inflate(data, max) end
---@class ocibuild.Limits
local Limits = {}
---Calls fn(...) as pcall does, under the limits: a count hook (inherited
---by every coroutine made meanwhile) spends the instruction budget, an
---allocator wrapping the state's own refuses growth past the memory
---ceiling, and the hook keeps the last line run in one of `sources`.
---Runs nest: each puts back the hook and allocator it found.
---@return boolean ok
---@return any ... fn's results, or the error object
function Limits:run(fn, ...) end
---@return "instructions"|"memory"|nil what the run went past
function Limits:exceeded() end
---@return string? where "FILE:LINE" (FILE as `sources` shows it) of the last line run in a source
function Limits:where() end
---Limits for a build script: instructions and memory (bytes) are 0 or
---nil for none; sources maps chunk names ("@/dir/build.lua") to the
---names messages show, and may grow while the script runs. With stall
---(seconds), a run that burns that much CPU time with no hook event and no
---pause (a C function no count can stop) ends the process: a watcher
---thread writes "ocibuild: FILE:LINE: " .. stalled on stderr, removes the
---temp files and exits 1. The outermost run with a stall watches for all
---runs inside it.
---@param t {instructions: integer?, memory: integer?, sources: table<string, string>?, stall: number?, stalled: string?}
---@return ocibuild.Limits
function core.limits(t) end
---Pauses the running limits (nested pauses count): ocibuild's own work for
---a script is neither counted nor refused. nil when none run.
---@return boolean
function core.limits_pause() end
---Ends a pause of core.limits_pause.
function core.limits_resume() end
---The message of the running limits once exceeded, else nil: a sandbox's
---pcall raises it again, so that no caught error lets a script go on.
---@return string?
function core.limits_exceeded() end

return core
