"""The auth commands as a new user meets them: register, log in, whoami, log out."""

from __future__ import annotations


def test_register_login_whoami_reports_guest_at_kyc_zero(du):
    user = du.register("Nguyen@Example.com", name="Nguyễn Văn Ánh")
    assert user["email"] == "nguyen@example.com"
    assert du.login("nguyen@example.com").exit_code == 0
    r = du("auth", "whoami", "--json")
    assert r.exit_code == 0, r.stderr
    me = r.json()
    assert (me["role"], me["kyc_level"], me["full_name"]) == ("guest", 0, "Nguyễn Văn Ánh")
    assert r.stderr == ""
