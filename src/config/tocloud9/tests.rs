use super::*;

fn env_only(env: &[(&str, &str)]) -> Result<ToCloud9Config, ConfigError> {
    resolve(None, &env)
}

#[test]
fn defaults_are_tocloud9s() {
    let c = env_only(&[]).expect("defaults are valid");
    assert_eq!(c.port, 8085);
    assert_eq!(c.realm_id, 1);
    assert_eq!(c.auth_db.masked(), "trinity:***@tcp(127.0.0.1:3306)/auth");
    assert_eq!(c.db_schema, DbSchema::TrinityCore);
    assert_eq!(c.health_check_port, 8900);
    assert_eq!(c.preferred_hostname, "localhost");
    assert_eq!(c.services.characters.to_string(), "localhost:8991");
    assert_eq!(c.services.servers_registry.to_string(), "localhost:8999");
    assert_eq!(c.services.chat.to_string(), "localhost:8992");
    assert_eq!(c.services.matchmaking.to_string(), "localhost:8994");
    assert_eq!(c.services.guilds.to_string(), "localhost:8995");
    assert_eq!(c.services.mail.to_string(), "localhost:8997");
    assert_eq!(c.services.group.to_string(), "localhost:8998");
    assert_eq!(c.services.auction_house.to_string(), "localhost:8993");
    assert_eq!(c.nats_url.0, "nats://nats:4222");
    assert_eq!(c.packet_process_timeout_secs, 20);
    assert!(c.show_gameserver_conn_change_to_client);
    assert_eq!(c.log_level, 0);
    assert_eq!(c.log_format, LogFormat::Dev);
    assert_eq!(c.admin_listen, None);
    assert!(c.origins.iter().all(|(k, o)| *o
        == if k.default.is_some() {
            Origin::Default
        } else {
            Origin::Unset
        }));
}

#[test]
fn tracing_filter_follows_zerolog_levels() {
    let with = |level: &str| {
        env_only(&[("LOG_LEVEL", level)])
            .expect("valid")
            .tracing_filter()
    };
    assert_eq!(with("-1"), "warn,waygate=trace");
    assert_eq!(with("debug"), "warn,waygate=debug");
    assert_eq!(with("1"), "warn,waygate=info");
    assert_eq!(with("warn"), "warn");
    assert_eq!(with("fatal"), "error");
    assert_eq!(with("disabled"), "off");
    assert_eq!(with(""), "off", "zerolog's no-level logs nothing leveled");
}

#[test]
fn service_addresses_and_nats_masking() {
    assert_eq!(
        ServiceAddress::parse("[::1]:8999").map(|a| a.http_uri()),
        Some("http://[::1]:8999".into())
    );
    for bad in [
        "",
        "charserver",
        ":8087",
        "host:0",
        "host:http",
        "::1:8999",
        "a b:1",
    ] {
        assert_eq!(ServiceAddress::parse(bad), None, "{bad:?}");
    }
    let url = NatsUrl("nats://u:secret@nats:4222, nats://tok@n2:4222,nats://n3:4222".into());
    assert_eq!(
        url.masked(),
        "nats://***@nats:4222,nats://***@n2:4222,nats://n3:4222"
    );
    assert!(!format!("{url:?}").contains("secret"));
}
