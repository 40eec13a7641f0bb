"""Session denial's statements: the pure policy-document merge (`policy`) and the writer that
puts them into permission sets' inline policies or an SCP and provisions them (`writer`)."""
