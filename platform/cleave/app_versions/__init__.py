"""The app-version policy: a minimum supported and a recommended version per platform.

Set through the ops API (`/api/ops/app-versions/`) and the admin, audited; enforced on every
/api/v1 request and socket by `cleave.app_versions.middleware` from the `X-Client-Version`
header (cleave.gateway.client_version); told to the app by `GET /api/v1/meta`.
"""
