-- Client certificates from certs.d, as docker and podman read them
-- (HOST:PORT/ca.crt, client.cert, client.key), against nginx asking every
-- client for a certificate of the registry's CA.
local R = require "support.registry"
local T = require "support"

describe("client certificates from certs.d", function()
  local reg, why, base

  R.serve({ tls = true, client_certs = true }, function(r, w, b) reg, why, base = r, w, b end)

  -- ocibuild with HOME set to home (where ~/.config/containers/certs.d is).
  local function ocb(home, ...)
    local words = {}
    for i, a in ipairs { ... } do words[i] = T.q(a) end
    return T.sh(("env HOME=%s %s %s"):format(T.q(home), T.q(T.bin), table.concat(words, " ")))
  end

  -- A home whose certs.d folder for the registry holds files (name -> source path).
  local function home(name, files)
    local h = base .. "/" .. name
    local dir = h .. "/.config/containers/certs.d/" .. reg.host
    T.must("mkdir -p " .. T.q(dir))
    for file, src in pairs(files) do T.must(("cp %s %s"):format(T.q(src), T.q(dir .. "/" .. file))) end
    return h, dir
  end

  it("presents certs.d's client certificate: push and pull go through", function()
    if not reg then return pending(why) end
    local h = home("good", { ["ca.crt"] = reg.ca, ["client.cert"] = reg.client_cert, ["client.key"] = reg.client_key })
    T.write(h .. "/ctx/hello.txt", "hello\n")
    local store = h .. "/store"
    local tag = reg.host .. "/team/mtls:v1"
    local code, out, err = ocb(h, "--store", store, "build", h .. "/ctx", "-t", tag)
    assert.equal(0, code, out .. err)
    code, out, err = ocb(h, "--store", store, "push", tag)
    assert.equal(0, code, out .. err)
    code, out, err = ocb(h, "--store", h .. "/back", "pull", tag)
    assert.equal(0, code, out .. err)
    assert.equal(T.image(store, tag).desc.digest, T.image(h .. "/back", tag).desc.digest)
    -- every request carried the certificate: nginx answered none with 400
    for _, r in ipairs(reg.requests()) do assert.not_equal(400, r.status, r.line) end
  end)

  it("without one, or with one the registry does not trust, says what to put where", function()
    if not reg then return pending(why) end
    local fix = ("put client.cert and client.key (PEM) into /etc/containers/certs.d/%s/ or "
      .. "~/.config/containers/certs.d/%s/\n"):format(reg.host, reg.host)
    local h = home("none", { ["ca.crt"] = reg.ca })
    local code, out, err = ocb(h, "--store", h .. "/store", "pull", reg.host .. "/team/mtls:v1")
    assert.same({ 1, "", ("ocibuild: %s wants a TLS client certificate and none was found (No required SSL certificate "
      .. "was sent): "):format(reg.host) .. fix }, { code, out, err })

    local dir
    h, dir = home("stranger", { ["ca.crt"] = reg.ca, ["client.cert"] = reg.stranger_cert,
      ["client.key"] = reg.stranger_key })
    code, out, err = ocb(h, "--store", h .. "/store", "pull", reg.host .. "/team/mtls:v1")
    assert.same({ 1, "", ("ocibuild: %s wants a TLS client certificate and refused %s/client.cert (The SSL certificate "
      .. "error): "):format(reg.host, dir) .. fix }, { code, out, err })

    -- half a pair is a mistake, said before any traffic
    h, dir = home("half", { ["ca.crt"] = reg.ca, ["client.cert"] = reg.client_cert })
    local n0 = #reg.requests()
    code, out, err = ocb(h, "--store", h .. "/store", "pull", reg.host .. "/team/mtls:v1")
    assert.same({ 1, "",
      ("ocibuild: %s/client.cert has no client.key beside it: a client certificate needs both (PEM)\n")
      :format(dir) }, { code, out, err })
    assert.equal(n0, #reg.requests())
  end)
end)
