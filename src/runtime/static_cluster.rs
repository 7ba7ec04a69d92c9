//! Accounts, characters and the registry from the config file: the embedded default.

use std::collections::BTreeMap;

use super::{Accounts, BoxFuture, Characters, Registry};
use crate::cluster::WorldserverInfo;
use crate::session::{
    AccountId, AccountRecord, CharacterGuid, CharacterRecord, NameRecord, SeamError,
};

/// An in-memory cluster: what the config file lists, nothing more.
#[derive(Debug, Clone, Default)]
pub struct StaticCluster {
    accounts: BTreeMap<String, AccountRecord>,
    characters: BTreeMap<CharacterGuid, CharacterRecord>,
    worldservers: Vec<WorldserverInfo>,
}

impl StaticCluster {
    /// Builds the cluster. Account names are matched case-insensitively, as the client
    /// upper-cases what the player typed.
    pub fn new(
        accounts: Vec<AccountRecord>,
        characters: Vec<CharacterRecord>,
        worldservers: Vec<WorldserverInfo>,
    ) -> Self {
        Self {
            accounts: accounts
                .into_iter()
                .map(|a| (a.name.to_ascii_uppercase(), a))
                .collect(),
            characters: characters.into_iter().map(|c| (c.guid, c)).collect(),
            worldservers,
        }
    }

    /// The worldservers, in registry order.
    pub fn worldservers(&self) -> &[WorldserverInfo] {
        &self.worldservers
    }
}

impl Accounts for StaticCluster {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        _client_ip: std::net::IpAddr,
    ) -> BoxFuture<'a, Result<Option<AccountRecord>, SeamError>> {
        let found = self.accounts.get(&name.to_ascii_uppercase()).cloned();
        Box::pin(async move { Ok(found) })
    }
}

impl Characters for StaticCluster {
    fn list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<CharacterRecord>, SeamError>> {
        let list = self
            .characters
            .values()
            .filter(|c| c.account == account)
            .cloned()
            .collect();
        Box::pin(async move { Ok(list) })
    }

    fn name(&self, guid: CharacterGuid) -> BoxFuture<'_, Result<Option<NameRecord>, SeamError>> {
        let found = self.characters.get(&guid).map(NameRecord::from);
        Box::pin(async move { Ok(found) })
    }
}

impl Registry for StaticCluster {
    fn worldservers(&self) -> BoxFuture<'_, Result<Vec<WorldserverInfo>, SeamError>> {
        let list = self.worldservers.clone();
        Box::pin(async move { Ok(list) })
    }
}
