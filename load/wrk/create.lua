-- wrk script: POST /api/create with a new valid RUT every request, so the weekly limit
-- never refuses the load. Each wrk thread counts through its own million RUT numbers.
local threads = 0

function setup(thread)
  thread:set("first_body", 40000000 + threads * 1000000)
  threads = threads + 1
end

local function check_digit(body)
  local sum, factor = 0, 2
  while body > 0 do
    sum = sum + (body % 10) * factor
    body = math.floor(body / 10)
    factor = factor == 7 and 2 or factor + 1
  end
  local digit = 11 - sum % 11
  if digit == 11 then return "0" elseif digit == 10 then return "K" else return tostring(digit) end
end

local counter = 0

function request()
  counter = counter + 1
  local body = first_body + counter
  local json = string.format(
    '{"name":"Carga Prueba","rut":"%d-%s","motive":"compras","address":"Calle 1","comuna":"Santiago"}',
    body, check_digit(body))
  return wrk.format("POST", "/api/create", { ["Host"] = "formulario.localhost", ["Content-Type"] = "application/json" }, json)
end
