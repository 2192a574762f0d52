--- Which certificates a registry's TLS is checked against: --insecure
-- (none), else --ca-file, else the `*.crt` files of certs.d/HOST[:PORT]
-- under /etc/containers/certs.d, ~/.config/containers/certs.d and
-- /etc/docker/certs.d (the first folder that has some), each in addition
-- to the system's CAs; else $SSL_CERT_FILE, else the system store.
-- Returns the HTTP client's TLS options and a phrase naming where the
-- trust came from, for messages.
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

-- The CA files of one certs.d/HOST folder, sorted (ca.crt first).
local function crt_files(dir)
  local names = core.list_dir(dir)
  if not names then return {} end
  local files = {}
  for _, n in ipairs(names) do
    if n:match("%.crt$") then files[#files + 1] = n end
  end
  table.sort(files, function(a, b)
    if (a == "ca.crt") ~= (b == "ca.crt") then return a == "ca.crt" end
    return a < b
  end)
  for i, n in ipairs(files) do files[i] = dir .. "/" .. n end
  return files
end

--- The certs.d CA files for domain ("host[:port]"): a list, maybe empty.
function M.certs_d(domain)
  for _, d in ipairs(M.dirs()) do
    local files = crt_files(d .. "/" .. domain)
    if #files > 0 then return files end
  end
  return {}
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
-- {insecure=} | {ca_pem=} | {}, the phrase naming the source, or nil,
-- msg, code when a CA file cannot be read.
function M.options(domain, opts)
  opts = opts or {}
  if opts.insecure then return { insecure = true }, "--insecure" end
  local files, why = nil, nil
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
