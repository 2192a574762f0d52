--- Signing keys as files: `cosign.key` (PKCS#8 PEM, encrypted when a
-- passphrase is given) and `cosign.pub` (SubjectPublicKeyInfo PEM), made
-- by keygen, read back for sign and verify. The passphrase comes from
-- $OCIBUILD_KEY_PASSWORD (empty: none), else from a prompt without echo
-- when standard input is a terminal, else there is none. Functions return
-- nil, msg, code on failure; messages name the file.
local core = require "ocibuild.core"
local paths_mod = require "ocibuild.util.path"

local M = {}

M.ENV = "OCIBUILD_KEY_PASSWORD"
-- A key file is a few hundred bytes; anything much larger is not one.
local MAX_FILE = 64 << 10

local function at_terminal()
  return core.terminal(0) ~= false
end

--- The passphrase for `purpose` ("for cosign.key"): a string, or false
-- when there is none (the variable is empty, or unset with no terminal).
-- With confirm (making a key), it is asked twice and must match.
function M.passphrase(purpose, confirm)
  local env = os.getenv(M.ENV)
  if env then return env ~= "" and env end
  if not at_terminal() then return false end
  local p, err, code = core.read_secret(nil, ("Passphrase %s%s: "):format(purpose,
    confirm and " (empty: not encrypted)" or ""))
  if not p then return nil, err, code end
  if confirm and p ~= "" then
    local again
    again, err, code = core.read_secret(nil, "The same passphrase again: ")
    if not again then return nil, err, code end
    if again ~= p then return nil, "the two passphrases differ", "EINVAL" end
  end
  return p ~= "" and p
end

local function read(path)
  local text, err, code = core.read_file(path, { max = MAX_FILE })
  if not text and code == "TOOBIG" then
    return nil, ("%s is not a key file: larger than %d bytes"):format(path, MAX_FILE), "BADKEY"
  end
  return text, err, code
end

--- The private key in the file at path (the passphrase asked for only
-- when the key is encrypted). Returns the key (core.key_load's), or nil,
-- msg, code: NEEDPASS when it is encrypted and no passphrase can be had.
function M.load_private(path)
  local text, err, code = read(path)
  if not text then return nil, err, code end
  local key
  key, err, code = core.key_load(text, { name = path })
  if code ~= "NEEDPASS" then return key, err, code end
  local pass
  pass, err, code = M.passphrase("for " .. path)
  if pass == nil then return nil, err, code end
  if not pass then
    return nil, ("%s is encrypted: set %s or run at a terminal to type its passphrase"):format(path, M.ENV), "NEEDPASS"
  end
  return core.key_load(text, { name = path, password = pass })
end

--- The public key in the file at path.
function M.load_public(path)
  local text, err, code = read(path)
  if not text then return nil, err, code end
  return core.key_load(text, { name = path, public = true })
end

--- Makes a key pair and writes PREFIX.key (mode 0600) and PREFIX.pub
-- (0644). Neither file is replaced unless opts.force; when one exists,
-- nothing is written. Returns {key=, pub=, id=, encrypted=}.
function M.generate(prefix, opts)
  opts = opts or {}
  local paths = { key = prefix .. ".key", pub = prefix .. ".pub" }
  if not opts.force then
    for _, p in ipairs { paths.key, paths.pub } do
      if core.stat(p, true) then return nil, ("%s exists: give --force to replace it"):format(p), "EEXIST" end
    end
  end
  local pass, err, code = M.passphrase("for the new " .. paths.key, true)
  if pass == nil then return nil, err, code end
  local key
  key, err, code = core.key_generate()
  if not key then return nil, err, code end
  local priv, pub
  priv, err, code = key:private_pem(pass or nil)
  if priv then pub, err, code = key:public_pem() end
  if not pub then return nil, err, code end
  local files = { { paths.key, priv, "600" }, { paths.pub, pub, "644" } }
  if opts.force then
    -- both written beside their places first, then moved there: a pair
    -- that cannot be written or moved leaves the old pair as it was
    local dir, derr, dcode = core.mkdtemp(paths_mod.dirname(paths_mod.abs(paths.key)) .. "/.ocibuild-keygen-")
    if not dir then return nil, derr, dcode end
    local function fail(...)
      for _, f in ipairs(files) do core.unlink(dir .. "/" .. f[1]:match("[^/]*$")) end
      core.rmdir(dir)
      return nil, ...
    end
    for _, f in ipairs(files) do
      local st = core.stat(f[1], true)
      if st and st.type == "dir" then return fail(("%s is a folder: refusing to replace it"):format(f[1]), "EISDIR") end
      local ok
      ok, err, code = core.write_key_file(dir .. "/" .. f[1]:match("[^/]*$"), f[2], { mode = tonumber(f[3], 8) })
      if not ok then return fail(err, code) end
    end
    -- the public key first: if the private one then cannot be moved, the
    -- old public key (kept here) goes back, and the old pair stands
    local old_pub = core.read_file(paths.pub, { max = MAX_FILE, nofollow = true })
    for i = 2, 1, -1 do
      local f = files[i]
      local ok
      ok, err = os.rename(dir .. "/" .. f[1]:match("[^/]*$"), f[1])
      if not ok then
        if i == 1 then
          if old_pub then
            core.write_key_file(paths.pub, old_pub, { mode = tonumber("644", 8), replace = true })
          else
            core.unlink(paths.pub)
          end
        end
        return fail(("cannot put %s in place: %s"):format(f[1], err), "EIO")
      end
    end
    core.rmdir(dir)
  else
    local written = {}
    for _, f in ipairs(files) do
      local ok
      ok, err, code = core.write_key_file(f[1], f[2], { mode = tonumber(f[3], 8), replace = false })
      if not ok then
        for _, p in ipairs(written) do core.unlink(p) end
        if code == "EEXIST" then return nil, ("%s exists: give --force to replace it"):format(f[1]), code end
        return nil, err, code
      end
      written[#written + 1] = f[1]
    end
  end
  return { key = paths.key, pub = paths.pub, id = key:id(), encrypted = pass and true or false }
end

return M
