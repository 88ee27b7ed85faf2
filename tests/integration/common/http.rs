//! GETs against a server under test, started in the test's process or as the release binary.

pub(crate) trait Get {
    fn url(&self, path: &str) -> String;

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.unwrap()
    }

    /// GETs `path` and decodes its JSON answer.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.unwrap()
    }

    /// GETs `path` and returns its body.
    async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }
}
