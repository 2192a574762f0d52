--- The version of ocibuild, alone, so that `ocibuild --version` and what
-- records it (layer states, the registry client's User-Agent, a
-- signature's creator, the API's VERSION) load nothing else.
return "0.1.0"
