//! Servers configured as managed MySQL/MariaDB services often are: each test
//! starts a private server with the setting under test.

use crate::support;

use support::private::PrivateServer;
use support::TestDb;

#[test]
fn private_servers_take_their_options() {
    let private = PrivateServer::start(&["--wait-timeout=7"]);
    let db = TestDb::on(private.server(), "private");
    let timeout: Vec<u64> = db.query("SELECT @@GLOBAL.wait_timeout");
    assert_eq!(timeout, vec![7]);
}
