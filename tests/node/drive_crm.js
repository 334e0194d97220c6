// Drives every persons, organizations, users and person/organization fields operation of the official Node
// client's v1 classes against a running mock (see harness.js for how it is run and what it prints).
'use strict';

const { Client, apiClient, call, refused, same, run } = require('./harness');

const persons = new Client.PersonsApi(apiClient);
const organizations = new Client.OrganizationsApi(apiClient);
const users = new Client.UsersApi(apiClient);
const personFields = new Client.PersonFieldsApi(apiClient);
const organizationFields = new Client.OrganizationFieldsApi(apiClient);

run(async () => {
  const org = await call(
    'addOrganization',
    organizations.addOrganization({ name: 'Client Proof Oy', address: 'Pier 1' }),
    (data) => same(data.name, 'Client Proof Oy', 'name'),
  );
  const other = await call(
    'addOrganization',
    organizations.addOrganization({ name: 'Client Proof Duplicate Oy' }),
    (data) => same(data.people_count, 0, 'people_count'),
  );
  const person = await call(
    'addPerson',
    persons.addPerson({
      name: 'Node Client',
      org_id: org.id,
      email: [{ value: 'node@example.com', primary: true, label: 'work' }],
    }),
    (data) => same(data.org_id && data.org_id.value, org.id, 'org_id'),
  );
  const twin = await call('addPerson', persons.addPerson({ name: 'Node Client Twin', phone: '+358 1' }), (data) =>
    same(data.phone[0].value, '+358 1', 'phone'),
  );
  await call('getPersons', persons.getPersons({ limit: 500, first_char: 'n' }), (data) =>
    data.some((p) => p.id === person.id) ? undefined : 'the new person is not listed',
  );
  await call('getPerson', persons.getPerson(person.id), (data) => same(data.id, person.id, 'id'));
  await call('updatePerson', persons.updatePerson(person.id, { name: 'Node Client Renamed' }), (data) =>
    same(data.name, 'Node Client Renamed', 'name'),
  );
  await call('searchPersons', persons.searchPersons('Renamed', { organization_id: org.id }), (data) =>
    same(data.items.length && data.items[0].item.id, person.id, 'found id'),
  );
  const deal = await new Client.DealsApi(apiClient).addDeal({
    name: 'Node deal',
    person_id: twin.id,
    org_id: other.id,
  });
  await call('getPersonDeals', persons.getPersonDeals(twin.id, { limit: 10 }), (data) =>
    same(data.length, 1, 'deals of the twin'),
  );
  await call('getPersonActivities', persons.getPersonActivities(twin.id, {}), (data) =>
    same(data.length, 0, 'activities'),
  );
  // The service answers a merge with the kept person's owner and organization as plain ids (MergePersonItem).
  await call(
    'mergePersons',
    persons.mergePersons(twin.id, { merge_with_id: person.id }),
    (data) =>
      same(data.id, person.id, 'kept id') ||
      same(data.org_id, org.id, 'org_id') ||
      same(data.owner_id, person.owner_id.value, 'owner_id') ||
      same(data.merge_what_id, twin.id, 'merge_what_id'),
  );
  await call('getPersonDeals', persons.getPersonDeals(person.id, {}), (data) =>
    same(data.length, 1, 'deals moved to the kept person'),
  );
  await refused('getPerson', persons.getPerson(twin.id), 404);
  const spare = await persons.addPerson({ name: 'Spare One' });
  const spare2 = await persons.addPerson({ name: 'Spare Two' });
  await call('deletePerson', persons.deletePerson(spare.data.id), (data) => same(data.id, spare.data.id, 'id'));
  await call('deletePersons', persons.deletePersons(String(spare2.data.id)), (data) =>
    same(JSON.stringify(data.id), JSON.stringify([spare2.data.id]), 'ids'),
  );

  await call('getOrganizations', organizations.getOrganizations({ limit: 500 }), (data) =>
    data.some((o) => o.id === org.id) ? undefined : 'the new organization is not listed',
  );
  await call('getOrganization', organizations.getOrganization(org.id), (data) => same(data.people_count, 1, 'people'));
  await call('updateOrganization', organizations.updateOrganization(org.id, { address: 'Pier 2' }), (data) =>
    same(data.address, 'Pier 2', 'address'),
  );
  await call('searchOrganization', organizations.searchOrganization('Client Proof', {}), (data) =>
    same(data.items.length, 2, 'found'),
  );
  await call('getOrganizationPersons', organizations.getOrganizationPersons(org.id, {}), (data) =>
    same(data.length, 1, 'persons'),
  );
  await call('getOrganizationDeals', organizations.getOrganizationDeals(other.id, {}), (data) =>
    same(data.length, 1, 'deals'),
  );
  await call('getOrganizationActivities', organizations.getOrganizationActivities(org.id, {}), (data) =>
    same(data.length, 0, 'activities'),
  );
  await call('mergeOrganizations', organizations.mergeOrganizations(other.id, { merge_with_id: org.id }), (data) =>
    same(data.open_deals_count, 1, 'deals moved to the kept organization'),
  );
  const spareOrg = await organizations.addOrganization({ name: 'Spare Oy' });
  const spareOrg2 = await organizations.addOrganization({ name: 'Spare Two Oy' });
  await call('deleteOrganization', organizations.deleteOrganization(spareOrg.data.id), (data) =>
    same(data.id, spareOrg.data.id, 'id'),
  );
  await call('deleteOrganizations', organizations.deleteOrganizations(String(spareOrg2.data.id)), (data) =>
    same(data.id[0], spareOrg2.data.id, 'ids'),
  );

  await call('getUsers', users.getUsers(), (data) => (data.length > 0 ? undefined : 'no users'));
  const me = await call('getCurrentUser', users.getCurrentUser(), (data) => same(data.is_you, true, 'is_you'));
  await call('getUser', users.getUser(me.id), (data) => same(data.email, me.email, 'email'));
  await call('findUsersByName', users.findUsersByName(me.name.split(' ')[0], {}), (data) =>
    data.some((u) => u.id === me.id) ? undefined : 'the token user is not found',
  );

  for (const [kind, api] of [
    ['Person', personFields],
    ['Organization', organizationFields],
  ]) {
    await call(`get${kind}Fields`, api[`get${kind}Fields`]({}), (data) => (data.length > 0 ? undefined : 'no fields'));
    const field = await call(
      `add${kind}Field`,
      api[`add${kind}Field`]({ name: 'Proof', field_type: 'varchar' }),
      (data) => same(data.key.length, 40, 'key length'),
    );
    await call(`get${kind}Field`, api[`get${kind}Field`](field.id), (data) => same(data.name, 'Proof', 'name'));
    await call(`update${kind}Field`, api[`update${kind}Field`](field.id, { name: 'Proof 2' }), (data) =>
      same(data.name, 'Proof 2', 'name'),
    );
    await call(`delete${kind}Field`, api[`delete${kind}Field`](field.id), (data) => same(data.id, field.id, 'id'));
    const more = await api[`add${kind}Field`]({ name: 'Bulk', field_type: 'text' });
    await call(`delete${kind}Fields`, api[`delete${kind}Fields`](String(more.data.id)), (data) =>
      same(data.id[0], more.data.id, 'ids'),
    );
  }
});
