--- Every failure code: what the third value of a `nil, msg, code` return
-- can be, anywhere in ocibuild. The C core's codes are those of its error
-- record (lua/meta/ocibuild_core.lua says when each comes); the Lua side's
-- are listed after them. Besides the names below, a code may be an errno's
-- own name (ENOENT, EACCES, EEXIST, ...: M.is_errno) or HTTPnnn, a
-- registry's answer (M.is_http). The CLI maps codes to exit statuses
-- (ocibuild.cli.EXIT); spec/unit/codes_spec.lua checks that every failure
-- return in lua/ carries a code and that each literal one is listed here.
local M = {}

--- The C core's codes (besides errno names).
M.C = {
  CHANGED = "a file changed while it was read",
  BADNAME = "a name that is not UTF-8",
  LOCALE = "a name that is not ASCII where no UTF-8 locale is installed",
  WHITEOUT = "a name starting with .wh.",
  DEVICE = "a device where a file was expected",
  BADTYPE = "an entry of a type that cannot be read or written there",
  BADDIGEST = "bytes that do not hash to their digest",
  BADSIZE = "bytes that are not the size their descriptor gives",
  TOOBIG = "more bytes than allowed",
  CORRUPT = "a store blob changed since it was written",
  BADPATTERN = "a .dockerignore pattern docker build refuses",
  ARCHIVE = "libarchive failed",
  UNKNOWNHOST = "a host name that does not resolve",
  X509 = "a TLS certificate that is not trusted",
  NOTLS = "TLS asked, and the server spoke something else",
  TLS = "another TLS failure",
  CAFILE = "a CA file that cannot be used",
  CLIENTCERT = "a client certificate or key that cannot be used",
  HTTP = "another libcurl failure",
  BADPEM = "a file that is not PEM",
  BADKEY = "a key of the wrong kind",
  NEEDPASS = "an encrypted key and no passphrase",
  BADPASS = "the wrong passphrase",
  KEYTYPE = "a key that is not ECDSA P-256",
  NOTSUP = "cosign's own key format",
  BADBASE64 = "text that is not base64",
  BADPIECE = "a shared cache's piece that is not the block it stands for",
  BADTAR = "a tar entry refused when a context is unpacked (a name out of it, a device, a name twice)",
}

--- The Lua side's codes.
M.LUA = {
  USAGE = "a command or verb called the wrong way (operands, options that exclude each other)",
  BADVALUE = "an option's value that cannot be used (a flag's, an argument's, a script table's field)",
  BADREF = "a reference that cannot be one, or cannot be used as asked",
  BADPLATFORM = "a platform that cannot be one, or whose layers ocibuild cannot write",
  NOPLATFORM = "an image without the platform asked for",
  LAYEROS = "a platform whose layers ocibuild cannot write (not Linux-style tars)",
  BADDOCKERFILE = "a Dockerfile asking what cannot be done",
  BADDOC = "a manifest, index or config that is not what the specs say",
  BADJSON = "text that is not the JSON expected",
  BADARCHIVE = "an archive that is not an OCI or docker archive, or holds what none holds",
  REJECT = "an archive entry no archive holds (the importer's, said as BADARCHIVE)",
  BADLAYER = "a layer whose tar cannot be read",
  BADCONF = "a registries.conf that cannot be used",
  BADENV = "an environment variable with a value that cannot be used",
  BADEVENT = "an event that its schema does not describe",
  BADPACKAGE = "a package's metadata (a jar, a package.json) that cannot be read",
  BADPAYLOAD = "a signature's payload that is not a simple signing one",
  BADSIG = "no signature verifies",
  NOSIG = "no signature there",
  NOATTEST = "no attestation of the kind asked for there",
  BADTOKEN = "a registry token endpoint's answer without a usable token",
  BADURL = "a registry's Location or base URL that cannot be used",
  BLOCKED = "a registry registries.conf blocks",
  NOTREGISTRY = "a server that does not speak the registry protocol",
  HELPER = "a credential helper that failed",
  DENIED = "the sandbox refused what a build script asked",
  LIMIT = "a build script went over its instruction or memory limit",
  SCRIPT = "a build script failed",
  NOIMAGE = "a build script saved no image to report",
  EAMBIGUOUS = "a name or prefix that names several images",
  BROKEN = "a store with problems (fsck, prune --verify, images it cannot read)",
  DIFFERENT = "two images that differ (diff)",
  NORANGE = "a registry that answers a range request with something else than the range",
}

--- true when code is an errno's name.
function M.is_errno(code)
  return type(code) == "string" and code:match("^E[A-Z0-9]+$") ~= nil
end

--- true when code is a registry's HTTP answer.
function M.is_http(code)
  return type(code) == "string" and code:match("^HTTP%d%d%d$") ~= nil
end

--- true when code is a code ocibuild knows.
function M.known(code)
  return M.C[code] ~= nil or M.LUA[code] ~= nil or M.is_errno(code) or M.is_http(code)
end

return M
