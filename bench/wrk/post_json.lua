-- wrk script for the json scenario: POST the small JSON body of
-- bench/scenario.JSONRequest on every request.
wrk.method = "POST"
wrk.body = '{"name":"drlee","id":42,"tags":["a","b","c"],"score":3.5}'
wrk.headers["Content-Type"] = "application/json"
