--- Which certificates a registry's TLS is checked against: --insecure
-- (none), else --ca-file, else the `*.crt` files of certs.d/HOST[:PORT]
-- under /etc/containers/certs.d, ~/.config/containers/certs.d and
-- /etc/docker/certs.d (the first folder that has certs.d files), each in
-- addition to the system's CAs; else $SSL_CERT_FILE, else the system
-- store. The same folder's `NAME.cert` with `NAME.key` is the client
-- certificate presented when the registry asks for one (as docker and
-- podman read them; one without the other is an error). Returns the HTTP
-- client's TLS options and a phrase naming where the trust came from,
-- for messages.
local core = require "ocibuild.core"

local M = {}

--- The certs.d folders searched, in order.
function M.dirs()
  local list = { "/etc/containers/certs.d" }
  local home = os.getenv("HOME")
  if home and home ~= "" then list[#list + 1] = home .. "/.config/containers/certs.d" end
  list[#list + 1] = "/etc/docker/certs.d"
  return list
end

-- The certs.d files of one HOST folder: CAs (*.crt, sorted, ca.crt
-- first) and the names of client pairs (*.cert, *.key), or nil.
local function host_files(dir)
  local names = core.list_dir(dir)
  if not names then return nil end
  local cas, pairs_ = {}, {}
  for _, n in ipairs(names) do
    if n:match("%.crt$") then cas[#cas + 1] = n end
    local base, ext = n:match("^(.+)%.(%a+)$")
    if ext == "cert" or ext == "key" then
      pairs_[base] = pairs_[base] or {}
      pairs_[base][ext] = true
    end
  end
  if #cas == 0 and next(pairs_) == nil then return nil end
  table.sort(cas, function(a, b)
    if (a == "ca.crt") ~= (b == "ca.crt") then return a == "ca.crt" end
    return a < b
  end)
  for i, n in ipairs(cas) do cas[i] = dir .. "/" .. n end
  return { dir = dir, cas = cas, pairs = pairs_ }
end

--- The certs.d folder of domain ("host[:port]"): {dir=, cas= (CA files,
-- maybe none), pairs= (client pair names)}, or nil when no folder has files.
function M.host_dir(domain)
  for _, d in ipairs(M.dirs()) do
    local f = host_files(d .. "/" .. domain)
    if f then return f end
  end
  return nil
end

--- The certs.d CA files for domain: a list, maybe empty.
function M.certs_d(domain)
  local f = M.host_dir(domain)
  return f and f.cas or {}
end

--- The client certificate of domain's certs.d folder: cert, key (files),
-- or false when there is none, or nil, msg, code for a half pair.
function M.client_pair(domain)
  local f = M.host_dir(domain)
  if not f then return false end
  local names = {}
  for base in pairs(f.pairs) do names[#names + 1] = base end
  table.sort(names, function(a, b)
    if (a == "client") ~= (b == "client") then return a == "client" end
    return a < b
  end)
  for _, base in ipairs(names) do
    local p = f.pairs[base]
    if not (p.cert and p.key) then
      local have, miss = p.cert and ".cert" or ".key", p.cert and ".key" or ".cert"
      return nil, ("%s/%s%s has no %s beside it: a client certificate needs both (PEM)"):format(f.dir, base, have,
        base .. miss), "CLIENTCERT"
    end
  end
  if #names == 0 then return false end
  return f.dir .. "/" .. names[1] .. ".cert", f.dir .. "/" .. names[1] .. ".key"
end

-- The system's CA bundle as PEM text: $SSL_CERT_FILE, else the first
-- bundle found where distributions keep it ("" when none is).
local BUNDLES = { "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem" }
local function system_pem()
  local env = os.getenv("SSL_CERT_FILE")
  for _, f in ipairs(env and env ~= "" and { env } or BUNDLES) do
    local text = core.read_file(f, { max = 16 << 20 })
    if text then return text end
  end
  return ""
end

-- PEM text of files, after the system's (the extra CAs are trusted as
-- well as the system's, as podman and docker do with certs.d; a token
-- endpoint elsewhere, on a public certificate, keeps working).
local function with_system(files)
  local pem = { system_pem() }
  for _, f in ipairs(files) do
    local text, err, code = core.read_file(f, { max = 1 << 20 })
    if not text then return nil, ("cannot read CA file %s: %s"):format(f, err), code end
    pem[#pem + 1] = text
  end
  return table.concat(pem, "\n")
end

--- TLS options for domain. opts: {insecure=, ca_file=}. Returns
-- {insecure=} | {ca_pem=} | {ca_file=} | {}, with cert_file and key_file
-- when certs.d has a client certificate, and the phrase naming the
-- source; or nil, msg, code when a file cannot be read or a pair is half.
function M.options(domain, opts)
  local tls, why, code = M.trust(domain, opts or {})
  if not tls then return nil, why, code end
  local cert, key
  cert, key, code = M.client_pair(domain)
  if cert == nil then return nil, key, code end
  if cert then tls.cert_file, tls.key_file = cert, key end
  return tls, why
end

-- The CA part of options.
function M.trust(domain, opts)
  if opts.insecure then return { insecure = true }, "--insecure" end
  local files, why
  if opts.ca_file then
    local st, err, code = core.stat(opts.ca_file)
    if not st then return nil, ("--ca-file: %s"):format(err), code end
    files, why = { opts.ca_file }, "--ca-file " .. opts.ca_file
  else
    files = M.certs_d(domain)
    why = table.concat(files, ", ")
  end
  if #files > 0 then
    local pem, err, code = with_system(files)
    if not pem then return nil, err, code end
    return { ca_pem = pem }, why .. " and the system's CAs"
  end
  local env = os.getenv("SSL_CERT_FILE")
  if env and env ~= "" then return { ca_file = env }, "SSL_CERT_FILE " .. env end
  return {}, "the system's CA store"
end

return M
